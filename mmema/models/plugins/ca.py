# Copyright (c) mmema contributors. All rights reserved.
"""CA: Coordinate Attention (Hou et al., CVPR 2021)."""
from typing import List, Optional, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer, build_norm_layer
from mmengine.model import BaseModule
from mmengine.registry import MODELS

from .arg_checks import check_feature_map, check_positive_ints


def check_ca_args(in_channels: int, reduction: int,
                  min_mid_channels: int) -> None:
    """Validate CA's arguments, raising an error that names the fix.

    Args:
        in_channels (int): Channels of the input feature map.
        reduction (int): Ratio of input to intermediate channels.
        min_mid_channels (int): Lower bound of the intermediate channels.
    """
    check_positive_ints(
        'CA',
        in_channels=in_channels,
        reduction=reduction,
        min_mid_channels=min_mid_channels)


@MODELS.register_module(name=['CA', 'CoordAttention'])
class CA(BaseModule):
    """Coordinate Attention.

    Paper: `Coordinate Attention for Efficient Mobile Network Design
    <https://arxiv.org/abs/2103.02907>`_ (Hou et al., CVPR 2021).

    The input is average-pooled along W and along H; the two directional
    descriptors are concatenated, encoded by a shared 1x1 conv
    (``in_channels -> mid``, ``mid = max(min_mid_channels, in_channels //
    reduction)``) + norm + h-swish, split again, and turned by one 1x1 conv
    each (``mid -> in_channels``) and a sigmoid into attention along H and
    along W, which multiply the input. The defaults are the authors'
    (reduction 32, at least 8 mid channels, BN, h-swish); the parameter
    names match the official module (``conv1``, ``bn1``, ``conv_h``,
    ``conv_w``).

    Args:
        in_channels (int): Channels of the input feature map.
        reduction (int): Ratio of input to intermediate channels.
            Defaults to 32.
        min_mid_channels (int): Lower bound of the intermediate channels.
            Defaults to 8.
        norm_cfg (dict): Config of the norm after the shared conv.
            Defaults to ``dict(type='BN')``.
        act_cfg (dict): Config of the activation after that norm.
            Defaults to ``dict(type='HSwish')``.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None (PyTorch's default initialization).
    """

    _abbr_ = 'ca_attn'

    def __init__(self,
                 in_channels: int,
                 reduction: int = 32,
                 min_mid_channels: int = 8,
                 norm_cfg: dict = dict(type='BN'),
                 act_cfg: dict = dict(type='HSwish'),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_ca_args(in_channels, reduction, min_mid_channels)
        self.in_channels = in_channels
        self.mid_channels = max(min_mid_channels, in_channels // reduction)
        self.conv1 = nn.Conv2d(in_channels, self.mid_channels, 1)
        self.bn1 = build_norm_layer(norm_cfg, self.mid_channels)[1]
        self.act = build_activation_layer(act_cfg)
        self.conv_h = nn.Conv2d(self.mid_channels, in_channels, 1)
        self.conv_w = nn.Conv2d(self.mid_channels, in_channels, 1)

    def extra_repr(self) -> str:
        return (f'in_channels={self.in_channels}, '
                f'mid_channels={self.mid_channels}')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Multiply ``x`` by its attention along H and along W.

        Args:
            x (Tensor): Input of shape (B, C, H, W).

        Returns:
            Tensor: Output of shape (B, C, H, W).
        """
        check_feature_map('CA', x, self.in_channels)
        h, w = x.shape[2:]
        x_h = x.mean(3, keepdim=True)  # (B, C, H, 1)
        x_w = x.mean(2, keepdim=True).transpose(2, 3)  # (B, C, W, 1)
        y = self.conv1(torch.cat([x_h, x_w], dim=2))  # (B, mid, H+W, 1)
        y_h, y_w = torch.split(self.act(self.bn1(y)), [h, w], dim=2)
        a_h = self.conv_h(y_h).sigmoid()  # (B, C, H, 1)
        a_w = self.conv_w(y_w.transpose(2, 3)).sigmoid()  # (B, C, 1, W)
        return x * a_w * a_h
