# Copyright (c) mmema contributors. All rights reserved.
"""EMA's published function, written as the paper's math reads.

Source of the algorithm: D. Ouyang et al., `Efficient Multi-Scale Attention
Module with Cross-Spatial Learning <https://arxiv.org/abs/2305.13563>`_
(ICASSP 2023), and its official implementation, the ``EMA`` module of
https://github.com/YOLOonMe/EMA-attention-module. This is mmema's own
transcription of that function, step by step and with no shortcut: every
faster path of :mod:`mmema.models.plugins.ema_paths` is tested against it,
and the benchmark and the attention visualiser compare with it.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .params import EMAParams


def ema_reference(x: Tensor, params: EMAParams, factor: int) -> Tensor:
    """EMA's forward, computed as published.

    Args:
        x (Tensor): Input, (B, C, H, W), ``C`` divisible by ``factor``.
        params (EMAParams): The module's parameters (``c = C / factor``
            channels per group).
        factor (int): Number of channel groups ``G``.

    Returns:
        Tensor: ``x`` re-weighted by its attention, (B, C, H, W).
    """
    b, ch, h, w = x.shape
    c = ch // factor
    g = x.reshape(b * factor, c, h, w)  # (N, c, H, W), N = B * G

    # 1x1 branch: the mean over W (one value per row) and over H (per
    # column), through one shared 1x1 conv, as sigmoid gates.
    row_means = g.mean(3, keepdim=True)  # (N, c, H, 1)
    col_means = g.mean(2, keepdim=True).transpose(2, 3)  # (N, c, W, 1)
    gates = torch.sigmoid(
        F.conv2d(torch.cat([row_means, col_means], 2), params.w1, params.b1))
    gate_h, gate_w = gates.split([h, w], 2)  # (N, c, H, 1), (N, c, W, 1)
    x1 = F.group_norm(g * gate_h * gate_w.transpose(2, 3), c, params.gn_w,
                      params.gn_b, params.eps)  # (N, c, H, W)

    # 3x3 branch.
    x2 = F.conv2d(g, params.w3, params.b3, padding=1)  # (N, c, H, W)

    # Cross-spatial learning: each branch's channel means, as a softmax
    # over the channels, weight the other branch's channels.
    x11 = torch.softmax(x1.mean((2, 3)), 1)  # (N, c)
    x21 = torch.softmax(x2.mean((2, 3)), 1)  # (N, c)
    weights = (torch.einsum('nc,nchw->nhw', x11, x2) +
               torch.einsum('nc,nchw->nhw', x21, x1))  # (N, H, W)
    return (g * torch.sigmoid(weights).unsqueeze(1)).reshape(b, ch, h, w)


class ReferenceEMA(nn.Module):
    """:func:`ema_reference` as a module, with the official module's layers.

    Its ``state_dict`` keys (``conv1x1.*``, ``conv3x3.*``, ``gn.*``) are the
    official module's and mmema's :class:`~mmema.models.plugins.EMA`'s, so
    the three load each other's weights.

    Args:
        channels (int): Input channels; divisible by ``factor``.
        factor (int): Number of channel groups. Defaults to 32.
    """

    def __init__(self, channels: int, factor: int = 32) -> None:
        super().__init__()
        self.in_channels, self.factor = channels, factor
        c = channels // factor
        self.conv1x1 = nn.Conv2d(c, c, 1)
        self.conv3x3 = nn.Conv2d(c, c, 3, padding=1)
        self.gn = nn.GroupNorm(c, c)

    def forward(self, x: Tensor) -> Tensor:
        """Args: x (Tensor): (B, C, H, W). Returns: Tensor: (B, C, H, W)."""
        return ema_reference(
            x,
            EMAParams(self.conv1x1.weight, self.conv1x1.bias,
                      self.conv3x3.weight, self.conv3x3.bias, self.gn.weight,
                      self.gn.bias, self.gn.eps), self.factor)
