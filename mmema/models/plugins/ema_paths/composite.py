# Copyright (c) mmema contributors. All rights reserved.
"""EMA from standard differentiable ops, built on the exact identities.

This path is what tracers and compilers see (``torch.jit.trace``, ONNX
export, ``torch.export``, ``torch.compile``) and what runs on devices with
no fused kernel. Autograd differentiates it, so it is also the independent
check of the hand-written backward passes.
"""
import torch
import torch.nn.functional as F
from torch import Tensor

from .identities import (conv3x3_channel_means, cross_spatial_kernel,
                         directional_gates, edge_selector, plane_corners,
                         window_sums)
from .params import EMAParams


def single_output_conv3x3(g: Tensor, flipped_taps: Tensor) -> Tensor:
    """``F.conv2d(g, kernel, padding=1)`` for a kernel with one output
    channel, from one matrix product and one fold (oneDNN serves
    single-output convolutions slowly).

    Args:
        g (Tensor): (n, c, H, W), contiguous.
        flipped_taps (Tensor): (9, c); row ``t`` is the kernel's tap
            ``8 - t`` (``kernel.view(c, 9).t().flip(0)``).

    Returns:
        Tensor: (n, 1, H, W).
    """
    n, c, h, w = g.shape
    per_tap = torch.matmul(flipped_taps, g.view(n, c, h * w))  # (n, 9, HW)
    return F.fold(per_tap, (h, w), 3, padding=1)


def ema_logits_composite(g: Tensor, params: EMAParams) -> Tensor:
    """Cross-spatial logits of the grouped input, before the sigmoid.

    Args:
        g (Tensor): Grouped input, (N, c, H, W).
        params (EMAParams): The module's parameters.

    Returns:
        Tensor: Logits of shape (N, 1, H, W).
    """
    n, c, h, w = g.shape
    row_sums, col_sums = g.sum(3), g.sum(2)  # (N, c, H), (N, c, W)
    gates = directional_gates(
        torch.cat([row_sums / w, col_sums / h], dim=-1), params.w1,
        params.b1)  # (N, c, H+W)
    gate_h, gate_w = gates[..., :h], gates[..., h:]
    x1 = F.group_norm(g * gate_h.unsqueeze(3) * gate_w.unsqueeze(2), c,
                      params.gn_w, params.gn_b, params.eps)
    sums = window_sums(row_sums, col_sums, plane_corners(g),
                       edge_selector(g))
    x21 = torch.softmax(
        conv3x3_channel_means(sums, params.w3, params.b3, h * w), dim=1)
    _, kernel, kernel_bias = cross_spatial_kernel(params.w3, params.b3,
                                                  params.gn_b)
    x11_x2 = single_output_conv3x3(g, kernel.view(c, 9).t().flip(0))
    x11_x2 = x11_x2 + kernel_bias  # (N, 1, H, W)
    x21_x1 = torch.bmm(x21.unsqueeze(1), x1.flatten(2))  # (N, 1, H*W)
    return x11_x2 + x21_x1.view(n, 1, h, w)
