# Copyright (c) mmema contributors. All rights reserved.
"""The parameter gradients of EMA from per-group reductions.

Both fused paths (the compiled CPU kernels and the Triton kernels) stream
the map and its gradient once per reduction and return, per group, the
few sums below; this module turns them into the six parameter gradients,
in one fixed order of summation (results do not depend on how the groups
were split between threads or programs).
"""
from typing import NamedTuple, Tuple

import torch
from torch import Tensor


def softmax_backward(grad: Tensor, prob: Tensor, dim: int) -> Tensor:
    """Gradient of ``prob = softmax(logits, dim)`` w.r.t. its logits.

    Args:
        grad (Tensor): Gradient w.r.t. ``prob``.
        prob (Tensor): The softmax output.
        dim (int): The softmax dimension.

    Returns:
        Tensor: Gradient w.r.t. the logits, shaped like ``prob``.
    """
    return prob * (grad - (grad * prob).sum(dim, keepdim=True))


class GroupShares(NamedTuple):
    """Per-group reductions of the backward pass, for ``N`` groups of ``c``
    channels, ``p`` the gradient of the logits and ``z = g * gate_h *
    gate_w`` (``L = H + W``).

    Attributes:
        kernel (Tensor): Gradient of the merged single-output 3x3 kernel,
            (N, c, 9), taps in row-major order.
        sum_p (Tensor): ``sum_HW p``, (N,).
        means3 (Tensor): Gradient of the 3x3 branch's channel means (before
            their softmax), (N, c).
        sum_pzc (Tensor): ``sum_HW p * (z - mean(z))``, (N, c).
        pre1 (Tensor): Gradient of conv1x1's outputs, channel-major,
            (c, N * L).
        pooled (Tensor): conv1x1's inputs, the row then column means,
            channel-major, (c, N * L).
    """

    kernel: Tensor
    sum_p: Tensor
    means3: Tensor
    sum_pzc: Tensor
    pre1: Tensor
    pooled: Tensor


def param_grads(shares: GroupShares, x11: Tensor, x21: Tensor, rstd: Tensor,
                window: Tensor, w3: Tensor, b3: Tensor,
                area: int) -> Tuple[Tensor, ...]:
    """Sum the per-group shares into the parameter gradients.

    The logits are ``x11 @ conv3x3(g) + x21 @ gn(z)``: the first term is a
    single-output convolution whose kernel and bias are ``x11 @
    conv3x3.weight`` and ``x11 @ conv3x3.bias`` with ``x11 =
    softmax(gn.bias)``; the second sees ``gn.weight`` through ``rstd * (z -
    mean)`` and ``gn.bias`` directly.

    Args:
        shares (GroupShares): The reductions of all groups.
        x11 (Tensor): ``softmax(gn.bias)``, (c,).
        x21 (Tensor): Softmax of the 3x3 branch's channel means, (N, c).
        rstd (Tensor): Reciprocal std of ``z``, (N, c).
        window (Tensor): Sums of ``g`` over the window of each 3x3 tap,
            (N, c, 9).
        w3 (Tensor): ``conv3x3.weight``, (c, c, 3, 3).
        b3 (Tensor): ``conv3x3.bias``, (c,).
        area (int): ``H * W``.

    Returns:
        tuple[Tensor]: Gradients of ``conv1x1.weight``, ``conv1x1.bias``,
        ``conv3x3.weight``, ``conv3x3.bias``, ``gn.weight``, ``gn.bias``.
    """
    c = w3.shape[0]
    kernel_total = shares.kernel.sum(0).reshape(c * 9)
    p_total = shares.sum_p.sum()
    grad_w3 = (torch.outer(x11, kernel_total) +
               shares.means3.t() @ window.reshape(-1, c * 9) / area)
    grad_b3 = x11 * p_total + shares.means3.sum(0)
    grad_x11 = w3.reshape(c, c * 9) @ kernel_total + b3 * p_total
    grad_gn_b = ((x21 * shares.sum_p[:, None]).sum(0) +
                 softmax_backward(grad_x11, x11, 0))
    grad_gn_w = (x21 * rstd * shares.sum_pzc).sum(0)
    grad_w1 = shares.pre1 @ shares.pooled.t()
    return (grad_w1.view(c, c, 1, 1), shares.pre1.sum(1),
            grad_w3.view(c, c, 3, 3), grad_b3, grad_gn_w, grad_gn_b)
