# Copyright (c) mmema contributors. All rights reserved.
"""EMA on CUDA as one autograd function over Triton kernels.

The full-size passes are the kernels of :mod:`.kernels`; the per-group
algebra between them is :mod:`.algebra`, and the parameter gradients come
from :func:`..gradient_algebra.param_grads`, as on the CPU path. The
forward reads the map 4 times and writes it once; the backward reads it
(and its gradient) about 6 times and writes once.
"""
from typing import Any, Optional, Tuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from ..gradient_algebra import GroupShares, param_grads
from ..params import EMAParams
from . import kernels
from .algebra import (GroupState, backward_group_algebra,
                      forward_group_algebra, logit_terms, low_rank_grads)
from .plan import make_plan


def supports(x: Tensor) -> bool:
    """Whether the kernels take ``x``: (B, C, H, W) no wider than
    :data:`.kernels.MAX_WIDTH` in a float dtype."""
    return (x.dtype in (torch.float32, torch.float16, torch.bfloat16)
            and x.shape[3] <= kernels.MAX_WIDTH)


class TritonEMAFunction(torch.autograd.Function):
    """EMA's forward and hand-derived backward as Triton kernels.

    ``apply(x, w1, b1, w3, b3, gn_w, gn_b, factor, eps)`` returns the output
    (B, C, H, W) in ``x``'s dtype (contiguous) and the float32 logits
    (B * factor, 1, H, W), which carry no gradient. All arithmetic is
    float32; autocast does not apply inside.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, w1: Tensor, b1: Tensor, w3: Tensor,
                b3: Tensor, gn_w: Tensor, gn_b: Tensor, factor: int,
                eps: float) -> Tuple[Tensor, Tensor]:
        weights = (w1, b1, w3, b3, gn_w, gn_b)
        with torch.autocast(x.device.type, enabled=False):
            b, ch, h, w = x.shape
            g = x.contiguous().view(b * factor, ch // factor, h, w)
            n, c = g.shape[:2]
            plan = make_plan(
                EMAParams(*(t.float() for t in weights), eps), h, w)
            borders = torch.cat([
                kernels.plane_sums(g, g.new_empty(n, c, h + w,
                                                  dtype=torch.float32)),
                g.view(n, c, h * w)[..., plan.corners].float()
            ], dim=-1)
            window, x21, gates = forward_group_algebra(borders, plan)
            mean, rstd = kernels.plane_moments(g, gates, eps)
            coef, offset = logit_terms(x21, rstd, plan)
            y = torch.empty_like(g)
            logits, attn = kernels.logits_and_output(g, plan.kernel_taps,
                                                     coef, mean, gates,
                                                     offset.view(n), y)
        state = GroupState(attn, borders[..., :h + w], gates, window, x21,
                           mean, rstd)
        ctx.factor, ctx.eps = factor, eps
        ctx.save_for_backward(g, *weights, *state)
        ctx.mark_non_differentiable(logits)
        return y.view(b, ch, h, w), logits

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: Tensor,
                 _: Optional[Tensor]) -> Tuple[Optional[Tensor], ...]:
        g, *rest = ctx.saved_tensors
        weights, state = tuple(rest[:6]), GroupState(*rest[6:])
        n, c, h, w = g.shape
        with torch.autocast(g.device.type, enabled=False):
            plan = make_plan(
                EMAParams(*(t.float() for t in weights), ctx.eps), h, w)
            grad_y = grad_y.contiguous().view_as(g)
            p = kernels.logit_grad(g, grad_y, state.attn)
            share, sum_pz = kernels.plane_grad_sums(g, p, state.gates)
            sum_p = p.sum((1, 2, 3))
            sum_pzc = sum_pz - state.mean * sum_p[:, None]
            coefs, means3 = backward_group_algebra(sum_p, sum_pzc, state.x21,
                                                   state.mean, state.rstd,
                                                   plan)
            pre1 = kernels.plane_sums(g, torch.empty_like(state.gates), p,
                                      state.gates, coefs.contiguous())
            pre1.mul_(1 - state.gates)
            grad_x = None
            if ctx.needs_input_grad[0]:
                grad_x = kernels.input_grad(g, grad_y, state.attn, p,
                                            state.gates, coefs.contiguous(),
                                            plan.flipped_kernel,
                                            *low_rank_grads(pre1, means3,
                                                            plan),
                                            torch.empty_like(g))
                grad_x = grad_x.view(n // ctx.factor, c * ctx.factor, h, w)
            # param_grads takes conv1x1's inputs and output gradients
            # channel-major, and the merged kernel's taps in row-major order.
            shares = GroupShares(
                share.flip(-1), sum_p, means3, sum_pzc,
                pre1.transpose(0, 1).reshape(c, -1),
                (state.sums * plan.mean_scale).transpose(0, 1).reshape(c, -1))
            grads = param_grads(shares, plan.x11, state.x21, state.rstd,
                                state.window, plan.params.w3, plan.params.b3,
                                h * w)
        return (grad_x, *(grad.to(t.dtype)
                          for grad, t in zip(grads, weights)), None, None)
