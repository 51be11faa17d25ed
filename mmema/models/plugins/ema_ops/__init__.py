# Copyright (c) mmema contributors. All rights reserved.
"""Fast implementations of EMA's forward and backward.

See :mod:`.identities` for the exact identities they rest on,
:mod:`.cpu_function` for the CPU path (over the compiled kernels in
``mmema/csrc``), :mod:`.triton_function` for the
CUDA path and :mod:`.composite` for the path tracers and compilers see.
"""
from .composite import ema_logits_composite
from .dispatch import (fused_ema, graph_is_being_recorded,
                       implementation_name)
from .params import EMAParams

__all__ = [
    'EMAParams', 'ema_logits_composite', 'fused_ema',
    'graph_is_being_recorded', 'implementation_name'
]
