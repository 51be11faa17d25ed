# Copyright (c) mmema contributors. All rights reserved.
"""Load ``mmema._ext``, the compiled CPU kernels (``mmema/csrc``).

Importing the extension registers ``torch.ops.mmema.ema_forward`` and
``torch.ops.mmema.ema_backward``. An install without it (no compiler, or
``MMEMA_WITH_OPS=0``) still works: EMA then runs its pure-PyTorch path,
and a one-time warning says how to build the kernels.
"""
import importlib
import warnings
from functools import lru_cache


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
