# Copyright (c) mmema contributors. All rights reserved.
"""EMA's forward and backward as one loop over chunks of groups each.

Each loop streams the full-size tensors once; every chunk runs its share of
the pass in the cache (:mod:`.chunk_steps`). Only the parameter gradients
need all groups: their per-group shares are summed after the loop.
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

from .chunk_plan import ChunkPlan
from .chunk_steps import backward_chunk, forward_chunk
from .group_algebra import GroupGrads, GroupState, sum_param_grads
from .chunk_workers import for_each_chunk
from .group_chunks import GroupChunks
from .workspace import workspace


def forward_passes(x: Tensor, chunks: GroupChunks, plan: ChunkPlan,
                   y: Tensor, workers: int) -> Tuple[Tensor, GroupState]:
    """Compute EMA's output into ``y``.

    Args:
        x (Tensor): Input, (B, C, H, W), contiguous or channels_last.
        chunks (GroupChunks): The chunking of ``x``'s groups.
        plan (ChunkPlan): The call's constants.
        y (Tensor): Output buffer shaped like ``x``.
        workers (int): Threads to share the chunks among.

    Returns:
        tuple: The logits (N, 1, H, W) and the all-group state the backward
        pass reuses.
    """
    n, (c, h, w) = chunks.groups, chunks.group_shape
    like = plan.params.w3
    logits = like.new_empty(n, 1, h, w)
    state = GroupState(torch.empty_like(logits), like.new_empty(n, c, h + w),
                       like.new_empty(n, c, h + w), like.new_empty(n, c, 9),
                       like.new_empty(n, c), like.new_empty(n, c),
                       like.new_empty(n, c))
    scratch = workspace((workers, chunks.step, c, h, w), like)

    def run(start: int, stop: int, worker: int) -> None:
        g = chunks.dense(x, start, stop)
        part = GroupState(*(t[start:stop] for t in state))
        forward_chunk(g, plan, part, logits[start:stop],
                      scratch[worker, :stop - start])
        out = chunks.slot(y, start, stop, scratch[worker])
        chunks.store(torch.mul(g, part.attn, out=out), y, start, stop)

    for_each_chunk(list(chunks), workers, run)
    return logits, state


def backward_passes(x: Tensor, grad_y: Tensor, chunks: GroupChunks,
                    plan: ChunkPlan, state: GroupState,
                    grad_x: Optional[Tensor],
                    workers: int) -> Tuple[Tensor, ...]:
    """Compute the input gradient into ``grad_x`` and the parameters'.

    Args:
        x (Tensor): Input, (B, C, H, W).
        grad_y (Tensor): Gradient of the output, in ``x``'s layout.
        chunks (GroupChunks): The chunking of ``x``'s groups.
        plan (ChunkPlan): The call's constants.
        state (GroupState): What the forward pass kept, for all groups.
        grad_x (Tensor, optional): Buffer for the input gradient, or None
            when the input needs none.
        workers (int): Threads to share the chunks among.

    Returns:
        tuple[Tensor]: Gradients of ``w1, b1, w3, b3, gn_w, gn_b``.
    """
    params = plan.params
    n, (c, h, w) = chunks.groups, chunks.group_shape
    like = params.w3
    grads = GroupGrads(like.new_empty(n), like.new_empty(n, c, 9),
                       like.new_empty(n, c), like.new_empty(n, c, h + w),
                       like.new_empty(n, c), like.new_empty(n, c))
    scratch = workspace((workers, 4, chunks.step, c, h, w), like)

    def run(start: int, stop: int, worker: int) -> None:
        grad_g = None
        if grad_x is not None:
            grad_g = chunks.slot(grad_x, start, stop, scratch[worker, 3])
        backward_chunk(chunks.dense(x, start, stop),
                       chunks.dense(grad_y, start, stop),
                       GroupState(*(t[start:stop] for t in state)), plan,
                       GroupGrads(*(t[start:stop] for t in grads)), grad_g,
                       scratch[worker, :3, :stop - start])
        if grad_g is not None:
            chunks.store(grad_g, grad_x, start, stop)

    for_each_chunk(list(chunks), workers, run)
    return sum_param_grads(grads, state, plan)
