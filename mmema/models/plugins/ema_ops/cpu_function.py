# Copyright (c) mmema contributors. All rights reserved.
"""EMA on the CPU as one autograd function over the compiled kernels.

``torch.ops.mmema.ema_forward`` reads each channel group once and keeps
per-group statistics; ``ema_backward`` returns the input gradient and
per-group shares of the parameter gradients, which :func:`param_grads`
sums here in a fixed order (results do not depend on the thread count).
The kernels take contiguous float32 or float64 maps; other layouts and
half-precision inputs are converted around them. The caller checks
:func:`.cpu_ops.cpu_ops_available` first, which loads the kernels.
"""
from typing import Any, Optional, Tuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for half-precision inputs, else the input's dtype."""
    if dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return dtype


def merged_kernel(w3: Tensor, b3: Tensor,
                  gn_b: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """``x11 = softmax(gn.bias)`` and the single-output 3x3 kernel and
    bias of ``x11 @ conv3x3(g)``.

    Returns:
        tuple[Tensor]: ``x11`` (c,), kernel (c, 9) and bias (0-dim).
    """
    c = w3.shape[0]
    x11 = torch.softmax(gn_b, 0)
    return x11, (x11 @ w3.reshape(c, c * 9)).view(c, 9), x11 @ b3


def param_grads(grads: Tuple[Tensor, ...], saved: Tuple[Tensor, ...],
                area: int) -> Tuple[Tensor, ...]:
    """Sum the kernels' per-group shares into the parameter gradients.

    Args:
        grads (tuple[Tensor]): The merged kernel's gradient (N, c, 9),
            ``sum p`` (N,), the 3x3 branch means' gradient (N, c),
            ``sum p * z`` (N, c) per group, and conv1x1's output
            gradient (c, N, H + W).
        saved (tuple[Tensor]): ``w3, b3, x11, pooled, mean, rstd, x21,
            window`` in the compute dtype; ``pooled`` is (c, N, H + W).
        area (int): ``H * W``.

    Returns:
        tuple[Tensor]: Gradients of ``w1, b1, w3, b3, gn_w, gn_b``.
    """
    kernel, sum_p, means3, sum_pz, pre1 = grads
    w3, b3, x11, pooled, mean, rstd, x21, window = saved
    c = w3.shape[0]
    kernel_total, p_total = kernel.sum(0).view(c * 9), sum_p.sum()
    grad_w3 = (torch.outer(x11, kernel_total) +
               means3.t() @ window.view(-1, c * 9) / area)
    grad_b3 = x11 * p_total + means3.sum(0)
    grad_x11 = w3.reshape(c, c * 9) @ kernel_total + b3 * p_total
    grad_gn_b = (x21 * sum_p[:, None]).sum(0) + x11 * (
        grad_x11 - (x11 * grad_x11).sum())
    grad_gn_w = (x21 * rstd * (sum_pz - mean * sum_p[:, None])).sum(0)
    grad_w1 = pre1.view(c, -1) @ pooled.view(c, -1).t()
    return (grad_w1.view(c, c, 1, 1), pre1.view(c, -1).sum(1),
            grad_w3.view(c, c, 3, 3), grad_b3, grad_gn_w, grad_gn_b)


class FusedCPUEMAFunction(torch.autograd.Function):
    """EMA's forward and hand-derived backward through the compiled kernels.

    ``apply(x, w1, b1, w3, b3, gn_w, gn_b, factor, eps)`` returns the output
    (B, C, H, W) in ``x``'s dtype and memory format, and the logits
    (B * factor, 1, H, W), which carry no gradient. Half-precision inputs
    are computed in float32; autocast does not apply inside.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, w1: Tensor, b1: Tensor, w3: Tensor,
                b3: Tensor, gn_w: Tensor, gn_b: Tensor, factor: int,
                eps: float) -> Tuple[Tensor, Tensor]:
        dtype = compute_dtype(x.dtype)
        with torch.autocast('cpu', enabled=False):
            weights = tuple(
                t.detach().to(dtype).contiguous()
                for t in (w1, b1, w3, b3, gn_w, gn_b))
            x11, kernel, kernel_bias = merged_kernel(weights[2], weights[3],
                                                     weights[5])
            xc = x.to(dtype).contiguous()
            y, logits, gates, pooled, mean, rstd, x21, window = \
                torch.ops.mmema.ema_forward(xc, factor, *weights, kernel,
                                            float(kernel_bias), eps)
        ctx.factor = factor
        ctx.param_dtypes = tuple(
            t.dtype for t in (w1, b1, w3, b3, gn_w, gn_b))
        ctx.save_for_backward(xc, *weights, x11, kernel, logits, gates,
                              pooled, mean, rstd, x21, window)
        ctx.mark_non_differentiable(logits)
        y = y.to(x.dtype)
        if not x.is_contiguous() and x.is_contiguous(
                memory_format=torch.channels_last):
            y = y.contiguous(memory_format=torch.channels_last)
        return y, logits

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: Tensor,
                 _: Optional[Tensor]) -> Tuple[Optional[Tensor], ...]:
        (xc, w1, _, w3, b3, gn_w, gn_b, x11, kernel, logits, gates, pooled,
         mean, rstd, x21, window) = ctx.saved_tensors
        with torch.autocast('cpu', enabled=False):
            grad_x, *grads = torch.ops.mmema.ema_backward(
                grad_y.to(xc.dtype).contiguous(), xc, ctx.factor, w1, w3,
                gn_w, gn_b, kernel, logits, gates, mean, rstd, x21,
                ctx.needs_input_grad[0])
            weight_grads = param_grads(
                tuple(grads), (w3, b3, x11, pooled, mean, rstd, x21, window),
                xc.shape[2] * xc.shape[3])
        if ctx.needs_input_grad[0]:
            grad_x = grad_x.to(grad_y.dtype)
            if grad_y.is_contiguous(memory_format=torch.channels_last) and \
                    not grad_y.is_contiguous():
                grad_x = grad_x.contiguous(memory_format=torch.channels_last)
        else:
            grad_x = None
        return (grad_x, *(g.to(dtype) for g, dtype in zip(
            weight_grads, ctx.param_dtypes)), None, None)
