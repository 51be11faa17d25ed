# Copyright (c) mmema contributors. All rights reserved.
"""Pick the fastest EMA implementation for an input.

* CPU tensors: :class:`.cpu.FusedCPUEMAFunction` over the compiled
  kernels of ``mmema._ext``, when they are built, or, for inputs nothing
  differentiates, :func:`.cpu.cpu_inference` over their inference
  kernel.
* CUDA tensors, with Triton installed and ``MMEMA_EMA_TRITON=1``:
  :class:`.triton.function.TritonEMAFunction` (float32, float16 and
  bfloat16 maps). The kernels have passed Triton's CPU interpreter but not
  yet a run on a GPU, so they are opt-in until
  ``tools/analysis_tools/gpu_check.py`` passes on a card; without the
  variable CUDA tensors take the composite path.
* While a tracer or compiler records the graph (``torch.jit.trace``, ONNX
  export, ``torch.export``, ``torch.compile``), on other devices and
  without the compiled kernels: None, so the caller runs the composite
  path, which those tools understand.
"""
import importlib.util
import os
from functools import lru_cache
from typing import Optional, Tuple

import torch
from torch import Tensor

from .cpu import FusedCPUEMAFunction, cpu_inference, cpu_ops_available
from .params import EMAParams


def graph_is_being_recorded() -> bool:
    """Whether a tracer, exporter or compiler is recording the graph."""
    return (torch.jit.is_tracing() or torch.jit.is_scripting()
            or torch.onnx.is_in_onnx_export()
            or torch.compiler.is_compiling())


@lru_cache(maxsize=None)
def triton_available() -> bool:
    """Whether Triton can be imported (it ships with CUDA builds of
    torch)."""
    return importlib.util.find_spec('triton') is not None


def triton_enabled() -> bool:
    """Whether CUDA tensors take the Triton kernels (opt-in, see above)."""
    return os.environ.get('MMEMA_EMA_TRITON') == '1' and triton_available()


def implementation_name(device: torch.device) -> str:
    """Which EMA implementation serves tensors on ``device``, for logs."""
    if device.type == 'cpu':
        if cpu_ops_available():
            isa = torch.ops.mmema.ema_cpu_isa()
            return f'compiled CPU kernels ({isa})'
        return 'composite (CPU kernels not built)'
    if device.type == 'cuda' and triton_enabled():
        return 'Triton kernels'
    return 'composite'


def fused_ema(
        x: Tensor,
        params: EMAParams,
        factor: int,
        keep_logits: bool = True
) -> Optional[Tuple[Tensor, Optional[Tensor]]]:
    """EMA through a fused implementation, if one serves ``x``.

    Args:
        x (Tensor): Input, (B, C, H, W).
        params (EMAParams): The module's parameters.
        factor (int): Number of channel groups.
        keep_logits (bool): Whether the caller needs the logits. The CPU
            inference kernel then skips writing them; the other
            implementations return them anyway. Defaults to True.

    Returns:
        tuple or None: Output (B, C, H, W) and logits (B * factor, 1, H, W,
        no gradient; None where ``keep_logits`` is False and they were not
        written), or None when the composite path must run.
    """
    if graph_is_being_recorded():
        return None
    if x.device.type == 'cpu' and cpu_ops_available():
        if torch.is_grad_enabled() and (x.requires_grad
                                        or any(t.requires_grad
                                               for t in params[:6])):
            return FusedCPUEMAFunction.apply(x, *params[:6], factor,
                                             params.eps)
        return cpu_inference(x, params[:6], factor, params.eps,
                             keep_logits)
    if x.is_cuda and triton_enabled():
        from .triton.function import TritonEMAFunction, supports
        if supports(x):
            return TritonEMAFunction.apply(x, *params[:6], factor,
                                           params.eps)
    return None
