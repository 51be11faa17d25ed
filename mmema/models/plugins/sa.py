# Copyright (c) mmema contributors. All rights reserved.
"""SA: Shuffle Attention (Zhang & Yang, ICASSP 2021)."""
from typing import List, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.registry import MODELS

from .arg_checks import check_feature_map, check_positive_ints


def check_sa_args(in_channels: int, groups: int) -> None:
    """Validate SA's arguments, raising an error that names the fix.

    Args:
        in_channels (int): Channels of the input feature map.
        groups (int): Number of channel groups.
    """
    check_positive_ints('SA', in_channels=in_channels, groups=groups)
    if in_channels % (2 * groups) != 0:
        divisors = [g for g in range(1, in_channels // 2 + 1)
                    if in_channels % (2 * g) == 0]
        raise ValueError(
            f'SA: in_channels ({in_channels}) must be divisible by 2 * groups '
            f'({2 * groups}): each group splits into a channel and a spatial '
            f'half. groups that work for {in_channels}: {divisors or "none"}.')


@MODELS.register_module(name=['SA', 'ShuffleAttention'])
class SA(BaseModule):
    """Shuffle Attention.

    Paper: `SA-Net: Shuffle Attention for Deep Convolutional Neural Networks
    <https://arxiv.org/abs/2102.00240>`_ (Zhang & Yang, ICASSP 2021).

    The channels are split into ``groups`` groups (moved into the batch
    dimension) and each group into two halves of ``c = in_channels //
    (2 * groups)`` channels. The first half gets channel attention
    ``sigmoid(cweight * mean_HW + cbias)``, the second spatial attention
    ``sigmoid(sweight * GroupNorm(x) + sbias)``; the halves are concatenated
    and a channel shuffle with two groups mixes them. All groups share the
    ``6 * c`` parameters. Defaults and initialization are the authors'
    (64 groups; weights zero, biases one, so the module starts as
    ``x * sigmoid(1)``).

    Args:
        in_channels (int): Channels of the input feature map. Must be
            divisible by ``2 * groups``.
        groups (int): Number of channel groups. Defaults to 64.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None (the authors' initialization).
    """

    _abbr_ = 'sa_attn'

    def __init__(self,
                 in_channels: int,
                 groups: int = 64,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_sa_args(in_channels, groups)
        self.in_channels = in_channels
        self.groups = groups
        half_channels = in_channels // (2 * groups)
        shape = (1, half_channels, 1, 1)
        self.cweight = nn.Parameter(torch.zeros(shape))
        self.cbias = nn.Parameter(torch.ones(shape))
        self.sweight = nn.Parameter(torch.zeros(shape))
        self.sbias = nn.Parameter(torch.ones(shape))
        self.gn = nn.GroupNorm(half_channels, half_channels)

    def extra_repr(self) -> str:
        return f'in_channels={self.in_channels}, groups={self.groups}'

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attend to each group's halves, then shuffle them together.

        Args:
            x (Tensor): Input of shape (B, C, H, W).

        Returns:
            Tensor: Output of shape (B, C, H, W).
        """
        check_feature_map('SA', x, self.in_channels)
        b, c, h, w = x.shape
        grouped = x.reshape(b * self.groups, -1, h, w)  # (BG, 2c', H, W)
        x_channel, x_spatial = grouped.chunk(2, dim=1)  # (BG, c', H, W) each
        channel_logits = (
            self.cweight * x_channel.mean((2, 3), keepdim=True) + self.cbias)
        spatial_logits = self.sweight * self.gn(x_spatial) + self.sbias
        out = torch.cat([x_channel * channel_logits.sigmoid(),
                         x_spatial * spatial_logits.sigmoid()], dim=1)
        # Channel shuffle with two groups: (B, 2, C/2, ...) -> (B, C/2, 2, ...)
        out = out.reshape(b, 2, c // 2, h, w).transpose(1, 2)
        return out.reshape(b, c, h, w)
