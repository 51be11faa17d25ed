# Copyright (c) mmema contributors. All rights reserved.
"""The per-group algebra between the full-size passes, shared by the CPU
(chunked) and CUDA (Triton) implementations.

Everything here works on small per-group tensors of ``n`` groups: plane
sums (n, c, H + W), per-plane scalars (n, c), window sums (n, c, 9).
"""
from typing import NamedTuple, Tuple

import torch
from torch import Tensor

from .chunk_plan import ChunkPlan
from .identities import conv3x3_channel_means, directional_gates
from .identity_grads import (gate_param_grads, gn_branch_backward,
                             merged_kernel_grad, softmax_backward)


class GroupState(NamedTuple):
    """Per-group results of the forward pass (slices of all-group buffers).

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


class GroupGrads(NamedTuple):
    """Per-group shares of the parameter gradients (slices of all-group
    buffers), summed over the groups once all chunks are done.

    Attributes:
        sum_p (Tensor): ``sum_HW p``, (n,).
        kernel (Tensor): Merged 3x3 kernel, (n, c, 9), taps reversed.
        means3 (Tensor): Channel means of the 3x3 branch (before the
            softmax), (n, c).
        pre1 (Tensor): Pre-sigmoid outputs of ``conv1x1``, (n, c, H + W).
        gn_w (Tensor): ``gn.weight``, (n, c).
        gn_b (Tensor): ``gn.bias`` through ``x21 @ x1``, (n, c).
    """

    sum_p: Tensor
    kernel: Tensor
    means3: Tensor
    pre1: Tensor
    gn_w: Tensor
    gn_b: Tensor


def forward_group_algebra(borders: Tensor,
                          plan: ChunkPlan) -> Tuple[Tensor, Tensor, Tensor]:
    """Window sums, ``x21`` and gates from the plane borders.

    Args:
        borders (Tensor): Row sums, column sums and corners, (n, c,
            H + W + 4).
        plan (ChunkPlan): The call's constants.

    Returns:
        tuple[Tensor]: Window sums (n, c, 9), ``x21`` (n, c) and the row
        then column gates (n, c, H + W).
    """
    params = plan.params
    area = plan.ops.h * plan.ops.w
    sums = borders[..., :plan.ops.h + plan.ops.w]
    window = borders @ plan.window_operator
    x21 = torch.softmax(
        conv3x3_channel_means(window, params.w3, params.b3, area), dim=1)
    gates = directional_gates(sums * plan.mean_scale, params.w1, params.b1)
    return window, x21, gates


def logit_terms(x21: Tensor, rstd: Tensor,
                plan: ChunkPlan) -> Tuple[Tensor, Tensor]:
    """Per-plane coefficients of the logits.

    ``logits = conv(g, merged kernel) + sum_o coef[o] * (z[o] - mean[o]) +
    offset``.

    Args:
        x21 (Tensor): (n, c).
        rstd (Tensor): Reciprocal std of ``z``, (n, c).
        plan (ChunkPlan): The call's constants.

    Returns:
        tuple[Tensor]: ``coef`` (n, c) and ``offset`` (n, 1).
    """
    params = plan.params
    offset = torch.addmm(plan.kernel_bias, x21, params.gn_b.unsqueeze(1))
    return x21 * params.gn_w * rstd, offset


def backward_group_algebra(
        sum_p: Tensor, sum_pz: Tensor, x21: Tensor, mean: Tensor,
        rstd: Tensor,
        plan: ChunkPlan) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Per-plane coefficients of ``dz`` and parameter-gradient shares.

    Args:
        sum_p (Tensor): ``sum_HW p``, (n,).
        sum_pz (Tensor): ``sum_HW p * z``, (n, c).
        x21 (Tensor): (n, c).
        mean (Tensor): Mean of ``z``, (n, c).
        rstd (Tensor): Reciprocal std of ``z``, (n, c).
        plan (ChunkPlan): The call's constants.

    Returns:
        tuple[Tensor]: ``A, B, C`` stacked (3, n, c) such that ``dz = A * p
        + B + C * z`` (uncentred ``z``); the shares of the gradients of
        ``gn.weight`` and ``gn.bias`` (n, c each); and the gradient of the
        3x3 branch's channel means (n, c).
    """
    params = plan.params
    area = plan.ops.h * plan.ops.w
    coef_p, offset, coef_zc, grad_x21, grad_gn_w, grad_gn_b = (
        gn_branch_backward(sum_p, sum_pz - mean * sum_p[:, None], x21, rstd,
                           params.gn_w, params.gn_b, area))
    coefs = torch.stack([coef_p, offset - coef_zc * mean, coef_zc])
    return coefs, grad_gn_w, grad_gn_b, softmax_backward(grad_x21, x21, 1)


def low_rank_grads(pre1: Tensor, means3: Tensor,
                   plan: ChunkPlan) -> Tuple[Tensor, Tensor]:
    """Gradients of the plane means and window sums, for the input's
    low-rank gradient term.

    Args:
        pre1 (Tensor): Gradient of ``conv1x1``'s outputs, (n, c, H + W).
        means3 (Tensor): Gradient of the 3x3 branch's channel means,
            (n, c).
        plan (ChunkPlan): The call's constants.

    Returns:
        tuple[Tensor]: Gradients of the row then column means, divided by W
        and H (n, c, H + W), and of the window sums (n, c, 9).
    """
    params = plan.params
    n, c = means3.shape
    area = plan.ops.h * plan.ops.w
    mean_grads = torch.matmul(params.w1.flatten(1).t(),
                              pre1 * plan.mean_scale)
    window_grads = (means3 @ params.w3.flatten(1)).view(n, c, 9) / area
    return mean_grads, window_grads


def sum_param_grads(grads: GroupGrads, state: GroupState,
                    plan: ChunkPlan) -> Tuple[Tensor, ...]:
    """Sum the per-group shares into the parameter gradients.

    Args:
        grads (GroupGrads): Shares of all groups.
        state (GroupState): Forward results of all groups.
        plan (ChunkPlan): The call's constants.

    Returns:
        tuple[Tensor]: Gradients of ``w1, b1, w3, b3, gn_w, gn_b``.
    """
    params = plan.params
    c, area = params.w3.shape[0], plan.ops.h * plan.ops.w
    grad_w1, grad_b1 = gate_param_grads(grads.pre1,
                                        state.sums * plan.mean_scale)
    merged_w3, merged_b3, merged_gn_b = merged_kernel_grad(
        grads.kernel.sum(0).flip(-1).view(c, 3, 3), grads.sum_p.sum(),
        plan.x11, params.w3, params.b3)
    grad_w3 = grads.means3.t() @ state.window.flatten(1) / area
    return (grad_w1.view_as(params.w1), grad_b1,
            grad_w3.view_as(params.w3) + merged_w3,
            grads.means3.sum(0) + merged_b3, grads.gn_w.sum(0),
            grads.gn_b.sum(0) + merged_gn_b)
