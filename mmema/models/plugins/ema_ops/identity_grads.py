# Copyright (c) mmema contributors. All rights reserved.
"""Backward of the identities in :mod:`.identities`, on small tensors.

Given the gradient ``p`` of EMA's logits (N, 1, H, W) and a few of its
reductions against the input, these functions return the parameter
gradients and the low-rank parts of the input gradient.
"""
from typing import Tuple

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


def merged_kernel_grad(grad_kernel: Tensor, grad_kernel_bias: Tensor,
                       x11: Tensor, weight: Tensor,
                       bias: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Chain the merged kernel's gradient back to the parameters.

    Args:
        grad_kernel (Tensor): Gradient of the merged kernel, (c, 3, 3).
        grad_kernel_bias (Tensor): Gradient of its bias, scalar.
        x11 (Tensor): ``softmax(gn.bias)``, (c,).
        weight (Tensor): ``conv3x3.weight``, (c, c, 3, 3).
        bias (Tensor): ``conv3x3.bias``, (c,).

    Returns:
        tuple[Tensor]: Contributions to the gradients of ``conv3x3.weight``
        (c, c, 3, 3), ``conv3x3.bias`` (c,) and ``gn.bias`` (c,).
    """
    grad_weight = x11.view(-1, 1, 1, 1) * grad_kernel
    grad_bias = x11 * grad_kernel_bias
    grad_x11 = weight.flatten(1) @ grad_kernel.flatten() + (
        bias * grad_kernel_bias)
    return grad_weight, grad_bias, softmax_backward(grad_x11, x11, 0)


def gn_branch_backward(
        sum_p: Tensor, sum_pzc: Tensor, x21: Tensor, rstd: Tensor,
        gn_weight: Tensor, gn_bias: Tensor, area: int
) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Backward of ``x21 @ gn(z)`` given the logits' gradient ``p``.

    With ``zc = z - mean``, ``P = sum_HW p`` and ``Pzc = sum_HW p * zc``,
    the gradient w.r.t. ``z`` is ``A * p + B + C * zc`` with per-plane
    coefficients.

    Args:
        sum_p (Tensor): ``P``, (N,).
        sum_pzc (Tensor): ``Pzc``, (N, c).
        x21 (Tensor): (N, c).
        rstd (Tensor): Reciprocal std of ``z``, (N, c).
        gn_weight (Tensor): (c,).
        gn_bias (Tensor): (c,).
        area (int): ``H * W``.

    Returns:
        tuple[Tensor]: ``A``, ``B``, ``C`` (N, c each), the gradient w.r.t.
        ``x21`` (N, c), and the per-plane shares of the gradients of
        ``gn.weight`` and ``gn.bias`` (N, c each).
    """
    sum_p = sum_p.unsqueeze(1)
    coef_p = x21 * gn_weight * rstd
    coef_zc = coef_p * rstd * rstd * sum_pzc / -area
    offset = coef_p * sum_p / -area
    grad_x21 = gn_weight * rstd * sum_pzc + gn_bias * sum_p
    return (coef_p, offset, coef_zc, grad_x21, x21 * rstd * sum_pzc,
            x21 * sum_p)


def gate_param_grads(grad_pre: Tensor,
                     means: Tensor) -> Tuple[Tensor, Tensor]:
    """Gradients of ``conv1x1`` from those of its outputs.

    The gates are ``sigmoid(pre)`` with ``pre = conv1x1(means)``. With
    ``z = g * gate_h * gate_w``, the gradient of ``pre`` is the row (or
    column) sum of ``dz * z`` times ``1 - gate``: no division by a gate that
    may underflow.

    Args:
        grad_pre (Tensor): Gradient of ``pre``, (N, c, H + W).
        means (Tensor): Row then column means, (N, c, H + W).

    Returns:
        tuple[Tensor]: Gradients of ``conv1x1.weight`` as (c, c) and of
        ``conv1x1.bias`` (c,).
    """
    return (torch.einsum('nol,njl->oj', grad_pre, means),
            grad_pre.sum((0, 2)))


def mean_scale(h: int, w: int, like: Tensor) -> Tensor:
    """``1 / W`` for the H row sums and ``1 / H`` for the W column sums.

    Args:
        h (int): Plane height.
        w (int): Plane width.
        like (Tensor): The result takes its dtype and device.

    Returns:
        Tensor: (H + W,), turning row and column sums into means.
    """
    scale = torch.full((h + w, ), 1.0 / w, dtype=like.dtype,
                       device=like.device)
    scale[h:] = 1.0 / h
    return scale


def window_mask(size: int, like: Tensor) -> Tensor:
    """Which positions along an axis each 3x3 tap offset reads.

    Args:
        size (int): Length of the axis.
        like (Tensor): The result takes its dtype and device.

    Returns:
        Tensor: (3, size); row ``d + 1`` is 1 where position ``i`` is read
        by offset ``d`` from some output: all but the last position for
        ``d = -1``, all for ``d = 0`` and all but the first for ``d = 1``.
    """
    mask = torch.ones(3, size, dtype=like.dtype, device=like.device)
    mask[0, -1] = 0
    mask[2, 0] = 0
    return mask
