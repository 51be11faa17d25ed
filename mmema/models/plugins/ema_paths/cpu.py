# Copyright (c) mmema contributors. All rights reserved.
"""EMA on the CPU as one autograd function over the compiled kernels.

``mmema._ext`` (built from ``mmema/csrc``) registers
``torch.ops.mmema.ema_forward``, which reads each channel group once per
pass and keeps per-group statistics, ``ema_inference``, the same forward
keeping nothing for a backward, and ``ema_backward``, which returns
the input gradient and the per-group shares that
:func:`.gradient_algebra.param_grads` sums into the parameter gradients
(results do not depend on the thread count). The kernels take contiguous
float32 or float64 maps; other layouts and half-precision inputs are
converted around them. An install without the extension (no compiler, or
``MMEMA_WITH_OPS=0``) still works: :func:`cpu_ops_available` then warns
once, and EMA runs its composite path.
"""
import importlib
import warnings
from functools import lru_cache
from typing import Any, NamedTuple, Optional, Tuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .gradient_algebra import GroupShares, param_grads


@lru_cache(maxsize=None)
def cpu_ops_available() -> bool:
    """Whether the compiled CPU kernels are loaded (warns once if not)."""
    try:
        importlib.import_module('mmema._ext')
    except ImportError as error:
        warnings.warn(
            'mmema: the fused EMA CPU kernels (mmema._ext) are not built '
            f'({error}); EMA runs its slower pure-PyTorch path on the CPU. '
            'Build them with `pip install --no-build-isolation -e .` or '
            '`python setup.py build_ext --inplace` in the mmema checkout.')
        return False
    return True


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 for half-precision inputs, else the input's dtype."""
    if dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return dtype


class ForwardRun(NamedTuple):
    """What one call of ``torch.ops.mmema.ema_forward`` took and gave.

    Attributes:
        x (Tensor): The input in the compute dtype, contiguous.
        weights (tuple[Tensor]): ``w1, b1, w3, b3, gn_w, gn_b`` likewise.
        x11 (Tensor): ``softmax(gn.bias)``, (c,), as the compiled kernel
            computed it.
        kernel (Tensor): The merged single-output 3x3 kernel, (c, 9),
            likewise (:func:`.identities.cross_spatial_kernel`'s).
        y (Tensor): The output, (B, C, H, W), in the compute dtype.
        logits (Tensor): The logits, (B * factor, 1, H, W).
        state (tuple[Tensor]): ``gates, pooled, mean, rstd, x21, window``,
            what the backward kernel reads.
    """

    x: Tensor
    weights: Tuple[Tensor, ...]
    x11: Tensor
    kernel: Tensor
    y: Tensor
    logits: Tensor
    state: Tuple[Tensor, ...]


def run_forward_kernel(x: Tensor, weights: Tuple[Tensor, ...], factor: int,
                       eps: float) -> ForwardRun:
    """EMA's forward through the compiled kernel, keeping what the backward
    kernel reads.

    Args:
        x (Tensor): Input, (B, C, H, W).
        weights (tuple[Tensor]): ``w1, b1, w3, b3, gn_w, gn_b``.
        factor (int): Number of channel groups.
        eps (float): GroupNorm's epsilon.

    Returns:
        ForwardRun: The output, the logits and what the backward needs.
    """
    dtype = compute_dtype(x.dtype)
    with torch.autocast('cpu', enabled=False):
        weights = tuple(t.detach().to(dtype).contiguous() for t in weights)
        xc = x.to(dtype).contiguous()
        y, logits, x11, kernel, *state = torch.ops.mmema.ema_forward(
            xc, factor, *weights, eps)
    return ForwardRun(xc, weights, x11, kernel, y, logits, tuple(state))


def output_like(y: Tensor, x: Tensor) -> Tensor:
    """``y`` in ``x``'s dtype, and channels-last if ``x`` is."""
    y = y.to(x.dtype)
    if not x.is_contiguous() and x.is_contiguous(
            memory_format=torch.channels_last):
        y = y.contiguous(memory_format=torch.channels_last)
    return y


def cpu_inference(x: Tensor, weights: Tuple[Tensor, ...], factor: int,
                  eps: float,
                  keep_logits: bool) -> Tuple[Tensor, Optional[Tensor]]:
    """EMA's forward through the compiled inference kernel.

    For inputs nothing differentiates (``torch.no_grad()``, inference
    mode, or no tensor that requires a gradient): no autograd record, and
    the per-group statistics the backward would read stay in the kernel's
    scratch.

    Args:
        x (Tensor): Input, (B, C, H, W).
        weights (tuple[Tensor]): ``w1, b1, w3, b3, gn_w, gn_b``.
        factor (int): Number of channel groups.
        eps (float): GroupNorm's epsilon.
        keep_logits (bool): Whether to return the logits.

    Returns:
        tuple: Output (B, C, H, W) in ``x``'s dtype and memory format, and
        the logits (B * factor, 1, H, W), or None unless ``keep_logits``.
    """
    y, logits = torch.ops.mmema.ema_inference(
        x.to(compute_dtype(x.dtype)), factor, *weights, eps, keep_logits)
    return output_like(y, x), logits if keep_logits else None


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
        run = run_forward_kernel(x, (w1, b1, w3, b3, gn_w, gn_b), factor, eps)
        ctx.factor = factor
        ctx.param_dtypes = tuple(t.dtype for t in (w1, b1, w3, b3, gn_w, gn_b))
        ctx.save_for_backward(run.x, *run.weights, run.x11, run.kernel,
                              run.logits, *run.state)
        ctx.mark_non_differentiable(run.logits)
        return output_like(run.y, x), run.logits

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: Tensor,
                 _: Optional[Tensor]) -> Tuple[Optional[Tensor], ...]:
        (xc, w1, _, w3, b3, gn_w, gn_b, x11, kernel, logits, gates, pooled,
         mean, rstd, x21, window) = ctx.saved_tensors
        with torch.autocast('cpu', enabled=False):
            grad_x, kernel_grad, sum_p, means3, sum_pz, pre1 = \
                torch.ops.mmema.ema_backward(
                    grad_y.to(xc.dtype).contiguous(), xc, ctx.factor, w1, w3,
                    gn_w, gn_b, kernel, logits, gates, mean, rstd, x21,
                    ctx.needs_input_grad[0])
            c = w3.shape[0]
            # The kernels lay conv1x1's inputs and output gradients out
            # channel-major, (c, N, H + W).
            shares = GroupShares(kernel_grad, sum_p, means3,
                                 sum_pz - mean * sum_p[:, None],
                                 pre1.view(c, -1), pooled.view(c, -1))
            weight_grads = param_grads(shares, x11, x21, rstd, window, w3,
                                       b3, xc.shape[2] * xc.shape[3])
        if ctx.needs_input_grad[0]:
            grad_x = grad_x.to(grad_y.dtype)
            if grad_y.is_contiguous(memory_format=torch.channels_last) and \
                    not grad_y.is_contiguous():
                grad_x = grad_x.contiguous(memory_format=torch.channels_last)
        else:
            grad_x = None
        return (grad_x, *(g.to(dtype) for g, dtype in zip(
            weight_grads, ctx.param_dtypes)), None, None)
