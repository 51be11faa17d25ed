# Copyright (c) mmema contributors. All rights reserved.
"""A straightforward transcription of EMA's published forward.

It follows the official code step by step (pooling modules, concatenation,
batched matmuls), written from the math in the paper, and is the reference
that tests and benchmarks compare mmema's :class:`~mmema.models.EMA` with.
Its ``state_dict`` keys equal the official module's, so the two load each
other's weights.
"""
import torch
import torch.nn as nn


class PublishedEMA(nn.Module):
    """EMA as published: the reference for parity tests and benchmarks.

    Args:
        channels (int): Input channels; divisible by ``factor``.
        factor (int): Number of channel groups. Defaults to 32.
    """

    def __init__(self, channels: int, factor: int = 32) -> None:
        super().__init__()
        self.groups = factor
        c = channels // factor
        self.softmax = nn.Softmax(-1)
        self.agp = nn.AdaptiveAvgPool2d((1, 1))
        self.pool_h = nn.AdaptiveAvgPool2d((None, 1))
        self.pool_w = nn.AdaptiveAvgPool2d((1, None))
        self.gn = nn.GroupNorm(c, c)
        self.conv1x1 = nn.Conv2d(c, c, kernel_size=1)
        self.conv3x3 = nn.Conv2d(c, c, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (Tensor): (B, C, H, W). Returns: Tensor: (B, C, H, W)."""
        b, c, h, w = x.size()
        group_x = x.reshape(b * self.groups, -1, h, w)  # (BG, c, H, W)
        x_h = self.pool_h(group_x)  # (BG, c, H, 1)
        x_w = self.pool_w(group_x).permute(0, 1, 3, 2)  # (BG, c, W, 1)
        hw = self.conv1x1(torch.cat([x_h, x_w], dim=2))
        x_h, x_w = torch.split(hw, [h, w], dim=2)
        x1 = self.gn(group_x * x_h.sigmoid() *
                     x_w.permute(0, 1, 3, 2).sigmoid())
        x2 = self.conv3x3(group_x)
        x11 = self.softmax(
            self.agp(x1).reshape(b * self.groups, -1, 1).permute(0, 2, 1))
        x12 = x2.reshape(b * self.groups, c // self.groups, -1)
        x21 = self.softmax(
            self.agp(x2).reshape(b * self.groups, -1, 1).permute(0, 2, 1))
        x22 = x1.reshape(b * self.groups, c // self.groups, -1)
        weights = (torch.matmul(x11, x12) + torch.matmul(x21, x22)).reshape(
            b * self.groups, 1, h, w)
        return (group_x * weights.sigmoid()).reshape(b, c, h, w)
