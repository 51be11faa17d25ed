# Copyright (c) mmema contributors. All rights reserved.
"""EMA from standard differentiable ops, built on the exact identities.

This path is what tracers, exporters and compilers see
(``torch.jit.trace``, both ONNX exporters, ``torch.export``,
``torch.compile``) and what runs on devices with no fused kernel. Autograd
differentiates it, so it is also the independent check of the hand-written
backward passes.

It is written for export as much as for eager use: no pooling module, no
``F.fold`` (ONNX's opset-18 ``Col2Im``), no ``F.pad`` (whose opset-18 form
ONNX's version converter cannot lower), no index assignment, no mean
(whose opset-18 ``axes`` input the converter cannot lower either: sums
over the area instead), and no ``GroupNorm``, whose group count exporters
want as a constant: with one channel per group it is an instance norm
(ONNX ``InstanceNormalization``). The channels per group come from the
parameters, so every shape the graph computes follows the input's batch,
height and width.
"""
import torch
import torch.nn.functional as F
from torch import Tensor

from .identities import (conv3x3_channel_means, cross_spatial_kernel,
                         directional_gates, edge_selector, plane_corners,
                         window_sums)
from .params import EMAParams


def single_output_conv3x3(g: Tensor, kernel: Tensor, bias: Tensor) -> Tensor:
    """``F.conv2d(g, kernel, bias, padding=1)`` for a kernel with one output
    channel: one matrix product and nine shifted adds.

    A convolution with one output channel is slow in oneDNN and in
    onnxruntime; contracting the channels first leaves nine small maps.

    Args:
        g (Tensor): (n, c, H, W).
        kernel (Tensor): (1, c, 3, 3).
        bias (Tensor): (1,).

    Returns:
        Tensor: (n, 1, H, W).
    """
    _, c, h, w = g.shape
    taps = kernel.reshape(c, 9).t()  # (9, c): row t is tap (t // 3, t % 3)
    per_tap = torch.matmul(taps, g.flatten(2)).view(-1, 9, h, w)
    zero_col = torch.zeros_like(per_tap[..., :1])
    padded = torch.cat([zero_col, per_tap, zero_col], 3)
    zero_row = torch.zeros_like(padded[:, :, :1])
    padded = torch.cat([zero_row, padded, zero_row], 2)  # (n, 9, H+2, W+2)
    out = bias.view(1, 1, 1, 1)
    for tap in range(9):
        kh, kw = divmod(tap, 3)
        out = out + padded[:, tap:tap + 1, kh:kh + h, kw:kw + w]
    return out


def one_channel_group_norm(z: Tensor, weight: Tensor, bias: Tensor,
                           eps: float) -> Tensor:
    """GroupNorm with one channel per group: an instance norm.

    ``F.instance_norm`` refuses planes of one element; GroupNorm maps such a
    plane to its bias (``z - mean`` is 0), written here as its closed form
    so that every parameter stays in the graph.

    Args:
        z (Tensor): (N, c, H, W).
        weight (Tensor): (c,).
        bias (Tensor): (c,).
        eps (float): GroupNorm's epsilon.

    Returns:
        Tensor: (N, c, H, W).
    """
    if z.shape[2] * z.shape[3] == 1:
        return (z - z) * weight.view(1, -1, 1, 1) + bias.view(1, -1, 1, 1)
    return F.instance_norm(z, weight=weight, bias=bias, eps=eps)


def ema_logits_composite(g: Tensor, params: EMAParams) -> Tensor:
    """Cross-spatial logits of the grouped input, before the sigmoid.

    Args:
        g (Tensor): Grouped input, (N, c, H, W).
        params (EMAParams): The module's parameters.

    Returns:
        Tensor: Logits of shape (N, 1, H, W).
    """
    _, c, h, w = g.shape
    row_sums, col_sums = g.sum(3), g.sum(2)  # (N, c, H), (N, c, W)
    gates = directional_gates(
        torch.cat([row_sums / w, col_sums / h], dim=-1), params.w1,
        params.b1)  # (N, c, H+W)
    gate_h, gate_w = gates[..., :h], gates[..., h:]
    x1 = one_channel_group_norm(g * gate_h.unsqueeze(3) * gate_w.unsqueeze(2),
                                params.gn_w, params.gn_b, params.eps)
    sums = window_sums(row_sums, col_sums, plane_corners(g), edge_selector(g))
    x21 = torch.softmax(
        conv3x3_channel_means(sums, params.w3, params.b3, h * w), dim=1)
    _, kernel, kernel_bias = cross_spatial_kernel(params.w3, params.b3,
                                                  params.gn_b)
    x11_x2 = single_output_conv3x3(g, kernel, kernel_bias)  # (N, 1, H, W)
    x21_x1 = torch.matmul(x21.unsqueeze(1), x1.flatten(2))  # (N, 1, H*W)
    return x11_x2 + x21_x1.view(-1, 1, h, w)
