# Copyright (c) mmema contributors. All rights reserved.
"""EMA's forward and backward on one cache-sized chunk of groups.

Each step reads its full-size inputs once, runs a few chunk-size passes
that hit the cache, does the per-group algebra of :mod:`.identities` and
:mod:`.identity_grads` on small tensors, and writes per-group results into
slices of buffers that hold all groups.

Notation: a chunk holds ``n`` groups ``g`` of ``c`` channels of ``H x W``;
``z = g * gate_h * gate_w`` is the GroupNorm input, ``G = gate_h x gate_w``
the gates' outer product and ``p`` the gradient of the logits.
"""
from typing import Optional

import torch
from torch import Tensor

from .chunk_plan import ChunkPlan
from .group_algebra import (GroupGrads, GroupState, backward_group_algebra,
                            forward_group_algebra, logit_terms, low_rank_grads)


def gate_product(gates: Tensor, h: int, out: Tensor) -> Tensor:
    """``G = gate_h x gate_w`` per plane, written into ``out``.

    Args:
        gates (Tensor): Row then column gates, (n, c, H + W).
        h (int): Plane height.
        out (Tensor): (n, c, H, W) buffer.

    Returns:
        Tensor: ``out``.
    """
    return torch.mul(gates[..., :h, None], gates[..., None, h:], out=out)


def forward_chunk(g: Tensor, plan: ChunkPlan, state: GroupState,
                  logits: Tensor, scratch: Tensor) -> None:
    """Logits, attention map and statistics of one chunk.

    Args:
        g (Tensor): (n, c, H, W), contiguous.
        plan (ChunkPlan): The call's constants.
        state (GroupState): Outputs.
        logits (Tensor): (n, 1, H, W) output.
        scratch (Tensor): (n, c, H, W) buffer.
    """
    n, c, h, w = g.shape
    area = h * w
    borders = plan.ops.borders(g, g.new_empty(n, c, h + w + 4))
    window, x21, gates = forward_group_algebra(borders, plan)
    state.sums.copy_(borders[..., :h + w])
    state.gates.copy_(gates)
    state.window.copy_(window)
    state.x21.copy_(x21)
    zc = gate_product(gates, h, scratch).mul_(g).view(n, c, area)
    torch.sum(zc, 2, out=state.mean).div_(area)
    zc.sub_(state.mean.unsqueeze(2))
    torch.linalg.vector_norm(zc, dim=2, out=state.rstd)
    state.rstd.square_().div_(area).add_(plan.params.eps).rsqrt_()
    coef, offset = logit_terms(x21, state.rstd, plan)
    x11_x2 = plan.ops.conv(g, plan.kernel_taps).add_(offset)
    torch.baddbmm(x11_x2.unsqueeze(1), coef.unsqueeze(1), zc,
                  out=logits.view(n, 1, area))
    torch.sigmoid(logits, out=state.attn)


def backward_chunk(g: Tensor, grad_y: Tensor, state: GroupState,
                   plan: ChunkPlan, grads: GroupGrads,
                   grad_g: Optional[Tensor], scratch: Tensor) -> None:
    """Parameter-gradient shares and, unless ``grad_g`` is None, the input
    gradient of one chunk.

    Args:
        g (Tensor): (n, c, H, W), contiguous.
        grad_y (Tensor): (n, c, H, W), contiguous.
        state (GroupState): The chunk's forward results.
        plan (ChunkPlan): The call's constants.
        grads (GroupGrads): Outputs.
        grad_g (Tensor, optional): (n, c, H, W) contiguous output.
        scratch (Tensor): (3, n, c, H, W) buffer.
    """
    n, c, h, w = g.shape
    area = h * w
    flat = (n, c, area)
    # Gradient of the logits: p = sum_c(dy * g) * s * (1 - s).
    p = torch.mul(grad_y, g, out=scratch[0]).sum(1, keepdim=True)
    p.mul_(state.attn - state.attn * state.attn)
    torch.sum(p.view(n, area), 1, out=grads.sum_p)
    taps = plan.ops.taps(p)  # (n, 9, H*W)
    torch.bmm(g.view(flat), taps.transpose(1, 2), out=grads.kernel)
    product = gate_product(state.gates, h, scratch[0])
    z = torch.mul(product, g, out=scratch[1])
    sum_pz = torch.bmm(z.view(flat), p.view(n, area, 1)).view(n, c)
    coefs, grad_gn_w, grad_gn_b, means3 = backward_group_algebra(
        grads.sum_p, sum_pz, state.x21, state.mean, state.rstd, plan)
    grads.means3.copy_(means3)
    grads.gn_w.copy_(grad_gn_w)
    grads.gn_b.copy_(grad_gn_b)
    coef_p, offset, coef_z = coefs[..., None, None]
    grad_z = torch.mul(z, coef_z, out=scratch[2]).add_(offset)
    grad_z.addcmul_(p, coef_p)
    # Gates' pre-activations: row/column sums of dz * z times 1 - gate.
    plan.ops.sums(z.mul_(grad_z), grads.pre1).mul_(1 - state.gates)
    if grad_g is None:
        return
    torch.mul(grad_y, state.attn, out=grad_g)
    grad_g.view(flat).baddbmm_(plan.flipped_kernel.expand(n, c, 9), taps)
    grad_g.addcmul_(grad_z, product)
    plan.ops.add_low_rank(grad_g, *low_rank_grads(grads.pre1, means3, plan))
