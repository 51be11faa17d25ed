# Copyright (c) mmema contributors. All rights reserved.
"""CBAM: Convolutional Block Attention Module (Woo et al., ECCV 2018)."""
from typing import List, Optional, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmengine.registry import MODELS

from .arg_checks import check_feature_map, check_positive_ints


def check_cbam_args(in_channels: int, reduction: int,
                    spatial_kernel: int) -> None:
    """Validate CBAM's arguments, raising an error that names the fix.

    Args:
        in_channels (int): Channels of the input feature map.
        reduction (int): Ratio of input to hidden channels of the MLP.
        spatial_kernel (int): Kernel size of the spatial attention conv.
    """
    check_positive_ints(
        'CBAM',
        in_channels=in_channels,
        reduction=reduction,
        spatial_kernel=spatial_kernel)
    if in_channels < reduction:
        raise ValueError(
            f'CBAM: in_channels ({in_channels}) // reduction ({reduction}) '
            'leaves the channel MLP no hidden channel. Use reduction <= '
            f'in_channels, e.g. reduction={in_channels}.')
    if spatial_kernel % 2 == 0:
        raise ValueError(
            f'CBAM: spatial_kernel must be odd to keep the spatial size, got '
            f'{spatial_kernel}. The paper uses 7.')


@MODELS.register_module(name=['CBAM', 'ConvBlockAttention'])
class CBAM(BaseModule):
    """Convolutional Block Attention Module: channel, then spatial attention.

    Paper: `CBAM: Convolutional Block Attention Module
    <https://arxiv.org/abs/1807.06521>`_ (Woo et al., ECCV 2018).

    Channel attention: a shared MLP (1x1 convs ``in_channels -> in_channels
    // reduction -> in_channels`` with biases, ReLU between) is applied to
    the average- and the max-pooled input; the sum of both through a sigmoid
    scales the channels. Spatial attention: the channel-wise max and mean of
    that result, stacked, go through a ``spatial_kernel`` conv (no bias) and
    a norm, and a sigmoid gives a map that scales every position. The
    defaults are the authors' (reduction 16, 7x7 kernel, BN with momentum
    0.01 after the spatial conv).

    Args:
        in_channels (int): Channels of the input feature map.
        reduction (int): Ratio of input to hidden channels of the MLP.
            Defaults to 16.
        spatial_kernel (int): Odd kernel size of the spatial conv.
            Defaults to 7.
        norm_cfg (dict): Config of the norm after the spatial conv.
            Defaults to ``dict(type='BN', momentum=0.01)``.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None (PyTorch's default initialization).
    """

    _abbr_ = 'cbam_attn'

    def __init__(self,
                 in_channels: int,
                 reduction: int = 16,
                 spatial_kernel: int = 7,
                 norm_cfg: dict = dict(type='BN', momentum=0.01),
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_cbam_args(in_channels, reduction, spatial_kernel)
        self.in_channels = in_channels
        self.reduction = reduction
        hidden_channels = in_channels // reduction
        self.channel_mlp = nn.Sequential(
            nn.Conv2d(in_channels, hidden_channels, 1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden_channels, in_channels, 1))
        self.spatial_conv = nn.Conv2d(
            2, 1, spatial_kernel, padding=spatial_kernel // 2, bias=False)
        self.spatial_norm = build_norm_layer(norm_cfg, 1)[1]

    def extra_repr(self) -> str:
        return (f'in_channels={self.in_channels}, reduction={self.reduction}, '
                f'spatial_kernel={self.spatial_conv.kernel_size[0]}')

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply channel attention, then spatial attention.

        Args:
            x (Tensor): Input of shape (B, C, H, W).

        Returns:
            Tensor: Output of shape (B, C, H, W).
        """
        check_feature_map('CBAM', x, self.in_channels)
        channel_logits = (
            self.channel_mlp(x.mean((2, 3), keepdim=True)) +
            self.channel_mlp(x.amax((2, 3), keepdim=True)))  # (B, C, 1, 1)
        x = x * channel_logits.sigmoid()
        pooled = torch.cat([x.amax(1, keepdim=True),
                            x.mean(1, keepdim=True)], dim=1)  # (B, 2, H, W)
        spatial_logits = self.spatial_norm(self.spatial_conv(pooled))
        return x * spatial_logits.sigmoid()  # map of shape (B, 1, H, W)
