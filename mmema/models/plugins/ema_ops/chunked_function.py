# Copyright (c) mmema contributors. All rights reserved.
"""EMA on the CPU as one autograd function over cache-sized chunks.

The forward keeps only per-group statistics and the (N, 1, H, W) attention
map; the backward recomputes the rest chunk by chunk from the input. No
full-size temporary is allocated, and each pass streams the full-size
tensors once (see :mod:`.chunked_passes`).
"""
from typing import Any, Optional, Tuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .chunk_plan import ChunkPlan, make_plan
from .chunk_workers import single_threaded_ops
from .chunked_passes import backward_passes, forward_passes
from .group_algebra import GroupState
from .group_chunks import GroupChunks
from .params import EMAParams

#: Bytes of input per chunk: small enough for a chunk's few same-size
#: temporaries to stay in cache, large enough to amortise the ~30 ops a
#: chunk issues (tuned on a 2-core x86 CPU with 2 MiB L2 per core).
CHUNK_BYTES = 1 << 21


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for half-precision inputs, else the input's dtype."""
    if dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return dtype


def as_supported_layout(x: Tensor) -> Tensor:
    """``x`` itself if contiguous or channels_last, else a contiguous
    copy."""
    if x.is_contiguous() or x.is_contiguous(
            memory_format=torch.channels_last):
        return x
    return x.contiguous()


def setup(x: Tensor, weights: Tuple[Tensor, ...], factor: int, eps: float,
          dtype: torch.dtype,
          workers: int) -> Tuple[GroupChunks, ChunkPlan]:
    """The chunking of ``x`` and the call's constants in ``dtype``."""
    params = EMAParams(*(t.to(dtype) for t in weights), eps)
    return (GroupChunks(x, factor, CHUNK_BYTES, dtype, workers),
            make_plan(params, x.shape[2], x.shape[3]))


class ChunkedEMAFunction(torch.autograd.Function):
    """EMA's forward and hand-derived backward, chunk by chunk.

    ``apply(x, w1, b1, w3, b3, gn_w, gn_b, factor, eps)`` returns the output
    (B, C, H, W) in ``x``'s dtype and memory format, and the logits
    (B * factor, 1, H, W), which carry no gradient. Half-precision inputs
    are computed in float32; autocast does not apply inside.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, w1: Tensor, b1: Tensor, w3: Tensor,
                b3: Tensor, gn_w: Tensor, gn_b: Tensor, factor: int,
                eps: float) -> Tuple[Tensor, Tensor]:
        with torch.autocast(x.device.type, enabled=False), \
                single_threaded_ops() as workers:
            x = as_supported_layout(x)
            chunks, plan = setup(x, (w1, b1, w3, b3, gn_w, gn_b), factor,
                                 eps, compute_dtype(x.dtype), workers)
            y = torch.empty_like(x)
            logits, state = forward_passes(x, chunks, plan, y, workers)
        ctx.factor, ctx.eps = factor, eps
        ctx.save_for_backward(x, w1, b1, w3, b3, gn_w, gn_b, *state)
        ctx.mark_non_differentiable(logits)
        return y, logits

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: Tensor,
                 _: Optional[Tensor]) -> Tuple[Optional[Tensor], ...]:
        x, *saved = ctx.saved_tensors  # unpack once (checkpointing)
        weights, state = tuple(saved[:6]), GroupState(*saved[6:])
        with torch.autocast(x.device.type, enabled=False), \
                single_threaded_ops() as workers:
            chunks, plan = setup(x, weights, ctx.factor, ctx.eps,
                                 state.attn.dtype, workers)
            grad_y = grad_y.contiguous(
                memory_format=torch.contiguous_format if chunks.
                flat else torch.channels_last)
            grad_x = torch.empty_like(x) if ctx.needs_input_grad[0] else None
            grads = backward_passes(x, grad_y, chunks, plan, state, grad_x,
                                    workers)
        return (grad_x, *(grad.to(t.dtype)
                          for grad, t in zip(grads, weights)), None, None)
