# Copyright (c) mmema contributors. All rights reserved.
"""NAM: Normalization-based Attention Module (Liu et al., 2021)."""
from typing import List, Optional, Union

import torch
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmengine.registry import MODELS

from .arg_checks import check_feature_map, check_positive_ints


def check_nam_args(in_channels: int) -> None:
    """Validate NAM's arguments, raising an error that names the fix.

    Args:
        in_channels (int): Channels of the input feature map.
    """
    check_positive_ints('NAM', in_channels=in_channels)


@MODELS.register_module(name=['NAM', 'NormalizationAttention'])
class NAM(BaseModule):
    """Normalization-based Attention Module (channel attention).

    Paper: `NAM: Normalization-based Attention Module
    <https://arxiv.org/abs/2111.12419>`_ (Liu et al., NeurIPS 2021
    workshop).

    The input is batch-normalized; each normalized channel is weighted by
    the normalized magnitude of its BN scale, ``|gamma_i| / sum_j |gamma_j|``,
    and a sigmoid of the result scales the input:
    ``x * sigmoid(w * BN(x))``. As in the authors' code (``no_spatial=True``)
    this is the channel submodule only, and ``w`` is taken from the BN
    weights without gradient (the weights still learn through ``BN``). The
    paper's L1 sparsity penalty on ``gamma`` belongs to the loss, not to
    this module.

    Args:
        in_channels (int): Channels of the input feature map.
        norm_cfg (dict): Config of the norm whose scales weight the
            channels; it must be affine. Defaults to ``dict(type='BN')``.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None (PyTorch's default initialization).
    """

    _abbr_ = 'nam_attn'

    def __init__(self,
                 in_channels: int,
                 norm_cfg: dict = dict(type='BN'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_nam_args(in_channels)
        self.in_channels = in_channels
        self.bn = build_norm_layer(norm_cfg, in_channels)[1]
        if getattr(self.bn, 'weight', None) is None:
            raise ValueError(
                f'NAM: the norm built from norm_cfg={norm_cfg} has no affine '
                'weight, but its per-channel scales are the attention '
                'weights. Use an affine norm (e.g. dict(type=\'BN\') without '
                'affine=False).')

    def extra_repr(self) -> str:
        return f'in_channels={self.in_channels}'

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale ``x`` by its BN-scale-weighted normalized response.

        Args:
            x (Tensor): Input of shape (B, C, H, W).

        Returns:
            Tensor: Output of shape (B, C, H, W).
        """
        check_feature_map('NAM', x, self.in_channels)
        scales = self.bn.weight.detach().abs()  # (C, )
        channel_weights = (scales / scales.sum()).reshape(1, -1, 1, 1)
        return x * (self.bn(x) * channel_weights).sigmoid()
