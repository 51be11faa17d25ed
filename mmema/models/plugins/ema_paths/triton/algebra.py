# Copyright (c) mmema contributors. All rights reserved.
"""The per-group algebra between the Triton path's full-size passes.

Everything here works on small per-group tensors of ``n`` groups: plane
sums (n, c, H + W), per-plane scalars (n, c), window sums (n, c, 9).
"""
from typing import NamedTuple, Tuple

import torch
from torch import Tensor

from ..gradient_algebra import softmax_backward
from ..identities import conv3x3_channel_means, directional_gates
from .plan import TritonPlan


class GroupState(NamedTuple):
    """Per-group results of the forward pass, saved for the backward.

    Attributes:
        attn (Tensor): Attention map, (n, 1, H, W).
        sums (Tensor): Row then column sums, (n, c, H + W).
        gates (Tensor): Row then column gates, (n, c, H + W).
        window (Tensor): Window sums of the 3x3 taps, (n, c, 9).
        x21 (Tensor): Softmax of the 3x3 branch's channel means, (n, c).
        mean (Tensor): Mean of ``z``, (n, c).
        rstd (Tensor): Reciprocal std of ``z``, (n, c).
    """

    attn: Tensor
    sums: Tensor
    gates: Tensor
    window: Tensor
    x21: Tensor
    mean: Tensor
    rstd: Tensor


def forward_group_algebra(borders: Tensor,
                          plan: TritonPlan) -> Tuple[Tensor, Tensor, Tensor]:
    """Window sums, ``x21`` and gates from the plane borders.

    Args:
        borders (Tensor): Row sums, column sums and corners, (n, c,
            H + W + 4).
        plan (TritonPlan): The call's constants.

    Returns:
        tuple[Tensor]: Window sums (n, c, 9), ``x21`` (n, c) and the row
        then column gates (n, c, H + W).
    """
    params = plan.params
    sums = borders[..., :plan.h + plan.w]
    window = borders @ plan.window_operator
    x21 = torch.softmax(
        conv3x3_channel_means(window, params.w3, params.b3, plan.h * plan.w),
        dim=1)
    gates = directional_gates(sums * plan.mean_scale, params.w1, params.b1)
    return window, x21, gates


def logit_terms(x21: Tensor, rstd: Tensor,
                plan: TritonPlan) -> Tuple[Tensor, Tensor]:
    """Per-plane coefficients of the logits.

    ``logits = conv(g, merged kernel) + sum_o coef[o] * (z[o] - mean[o]) +
    offset``.

    Args:
        x21 (Tensor): (n, c).
        rstd (Tensor): Reciprocal std of ``z``, (n, c).
        plan (TritonPlan): The call's constants.

    Returns:
        tuple[Tensor]: ``coef`` (n, c) and ``offset`` (n, 1).
    """
    params = plan.params
    offset = torch.addmm(plan.kernel_bias, x21, params.gn_b.unsqueeze(1))
    return x21 * params.gn_w * rstd, offset


def backward_group_algebra(sum_p: Tensor, sum_pzc: Tensor, x21: Tensor,
                           mean: Tensor, rstd: Tensor,
                           plan: TritonPlan) -> Tuple[Tensor, Tensor]:
    """Per-plane coefficients of ``dz`` and the 3x3 means' gradient.

    The logits' ``x21 @ gn(z)`` term, with ``zc = z - mean``, ``P = sum_HW
    p`` and ``Pzc = sum_HW p * zc``, sends ``dz = A * p + B + C * zc`` with
    per-plane ``A``, ``B``, ``C``, and ``Pzc`` and ``P`` on to ``x21``.

    Args:
        sum_p (Tensor): ``P``, (n,).
        sum_pzc (Tensor): ``Pzc``, (n, c).
        x21 (Tensor): (n, c).
        mean (Tensor): Mean of ``z``, (n, c).
        rstd (Tensor): Reciprocal std of ``z``, (n, c).
        plan (TritonPlan): The call's constants.

    Returns:
        tuple[Tensor]: ``A, B, C`` stacked (3, n, c) such that ``dz = A * p
        + B + C * z`` (uncentred ``z``), and the gradient of the 3x3
        branch's channel means (n, c).
    """
    params = plan.params
    area = plan.h * plan.w
    p_total = sum_p.unsqueeze(1)
    coef_p = x21 * params.gn_w * rstd
    coef_zc = coef_p * rstd * rstd * sum_pzc / -area
    offset = coef_p * p_total / -area
    grad_x21 = params.gn_w * rstd * sum_pzc + params.gn_b * p_total
    coefs = torch.stack([coef_p, offset - coef_zc * mean, coef_zc])
    return coefs, softmax_backward(grad_x21, x21, 1)


def low_rank_grads(pre1: Tensor, means3: Tensor,
                   plan: TritonPlan) -> Tuple[Tensor, Tensor]:
    """Gradients of the plane means and window sums, for the input's
    low-rank gradient term.

    Args:
        pre1 (Tensor): Gradient of ``conv1x1``'s outputs, (n, c, H + W).
        means3 (Tensor): Gradient of the 3x3 branch's channel means,
            (n, c).
        plan (TritonPlan): The call's constants.

    Returns:
        tuple[Tensor]: Gradients of the row then column means, divided by W
        and H (n, c, H + W), and of the window sums (n, c, 9).
    """
    params = plan.params
    n, c = means3.shape
    mean_grads = torch.matmul(params.w1.flatten(1).t(),
                              pre1 * plan.mean_scale)
    window_grads = (means3 @ params.w3.flatten(1)).view(
        n, c, 9) / (plan.h * plan.w)
    return mean_grads, window_grads
