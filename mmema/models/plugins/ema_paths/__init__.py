# Copyright (c) mmema contributors. All rights reserved.
"""EMA's implementation paths, each one room, each equal to the reference.

* :mod:`.reference`: the published function, step by step, written from
  the paper's math; every other path is tested against it.
* :mod:`.identities`: the exact identities that shrink the function to
  per-group statistics and one single-output 3x3 convolution.
* :mod:`.composite`: EMA from standard ops built on those identities; what
  tracers, exporters and compilers see, and the fallback on any device.
* :mod:`.cpu`: one autograd function over the compiled CPU kernels
  (``mmema/csrc``).
* :mod:`.triton`: one autograd function over Triton kernels for CUDA.
* :mod:`.gradient_algebra`: the parameter gradients of both fused paths
  from their per-group reductions, written once.
* :mod:`.dispatch`: which path serves an input.
"""
from .composite import ema_logits_composite
from .dispatch import (fused_ema, graph_is_being_recorded,
                       implementation_name)
from .params import EMAParams
from .reference import ReferenceEMA, ema_reference

__all__ = [
    'EMAParams', 'ReferenceEMA', 'ema_logits_composite', 'ema_reference',
    'fused_ema', 'graph_is_being_recorded', 'implementation_name'
]
