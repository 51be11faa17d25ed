# Copyright (c) mmema contributors. All rights reserved.
"""SE: Squeeze-and-Excitation (Hu et al., CVPR 2018)."""
from typing import List, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.registry import MODELS

from .arg_checks import check_feature_map, check_positive_ints


def check_se_args(in_channels: int, reduction: int) -> None:
    """Validate SE's arguments, raising an error that names the fix.

    Args:
        in_channels (int): Channels of the input feature map.
        reduction (int): Ratio of input to squeezed channels.
    """
    check_positive_ints('SE', in_channels=in_channels, reduction=reduction)
    if in_channels < reduction:
        raise ValueError(
            f'SE: in_channels ({in_channels}) // reduction ({reduction}) '
            'leaves no squeezed channel. Use reduction <= in_channels, e.g. '
            f'reduction={in_channels}.')


@MODELS.register_module(name=['SE', 'SqueezeExcitation'])
class SE(BaseModule):
    """Squeeze-and-Excitation channel attention.

    Paper: `Squeeze-and-Excitation Networks
    <https://arxiv.org/abs/1709.01507>`_ (Hu et al., CVPR 2018).

    Global average pooling squeezes each channel to one value; two 1x1
    convolutions (``in_channels -> in_channels // reduction -> in_channels``,
    with biases, ReLU between) and a sigmoid give one weight per channel
    that scales the input. The defaults are the paper's (reduction 16).

    Args:
        in_channels (int): Channels of the input feature map.
        reduction (int): Ratio of input channels to squeezed channels.
            Defaults to 16.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None (PyTorch's default initialization).
    """

    _abbr_ = 'se_attn'

    def __init__(self,
                 in_channels: int,
                 reduction: int = 16,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_se_args(in_channels, reduction)
        self.in_channels = in_channels
        self.reduction = reduction
        squeezed_channels = in_channels // reduction
        self.fc1 = nn.Conv2d(in_channels, squeezed_channels, 1)
        self.relu = nn.ReLU(inplace=True)
        self.fc2 = nn.Conv2d(squeezed_channels, in_channels, 1)

    def extra_repr(self) -> str:
        return f'in_channels={self.in_channels}, reduction={self.reduction}'

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scale each channel of ``x`` by its excitation.

        Args:
            x (Tensor): Input of shape (B, C, H, W).

        Returns:
            Tensor: Output of shape (B, C, H, W).
        """
        check_feature_map('SE', x, self.in_channels)
        squeezed = x.mean((2, 3), keepdim=True)  # (B, C, 1, 1)
        excitation = self.fc2(self.relu(self.fc1(squeezed)))  # (B, C, 1, 1)
        return x * excitation.sigmoid()
