# Copyright (c) mmema contributors. All rights reserved.
"""Let weights-only ``torch.load`` read the checkpoints mmengine writes.

Since torch 2.6, ``torch.load`` unpickles with ``weights_only=True`` and
rejects every global it does not know. An mmengine checkpoint holds, next to
its tensors, the ``MessageHub`` state: ``HistoryBuffer`` objects (numpy
arrays of logged values, plus their statistic methods pickled as
``getattr(HistoryBuffer, 'mean')``) and numpy scalars such as the ``eta``.
Without these globals ``--resume`` and ``load_from`` fail.

This module allow-lists exactly those types, so weights-only loading stays
on. ``getattr`` in particular is replaced by a stand-in that resolves only
HistoryBuffer's statistic methods: a checkpoint can still not reach any
other attribute, and so can not run code.
"""
import pickle
from typing import Any, Callable, List, Tuple, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

# The methods ``HistoryBuffer._set_default_statistics`` registers; they are
# pickled in every buffer's state (``HistoryBuffer.__getstate__``).
HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')

# The dtypes of logged values: numpy arrays in HistoryBuffer and numpy
# scalars in the runtime info (floats, counts, flags).
LOGGED_NUMPY_DTYPES = (np.bool_, np.int32, np.int64, np.float16, np.float32,
                       np.float64)

SafeGlobal = Union[Callable, Tuple[Callable, str]]


def history_buffer_statistic(owner: Any, name: str) -> Callable:
    """Stand-in for ``builtins.getattr`` during weights-only unpickling.

    Args:
        owner (Any): The object pickle asks an attribute of.
        name (str): The attribute's name.

    Returns:
        Callable: ``getattr(HistoryBuffer, name)`` for a default statistic
        method.

    Raises:
        pickle.UnpicklingError: For any other owner or name.
    """
    if owner is not HistoryBuffer or name not in HISTORY_BUFFER_STATISTICS:
        raise pickle.UnpicklingError(
            f'Weights-only load refused getattr({owner!r}, {name!r}): '
            'mmema only allows the statistic methods of mmengine\'s '
            f'HistoryBuffer {HISTORY_BUFFER_STATISTICS}. Load only '
            'checkpoints you trust, and allow-list their globals with '
            'torch.serialization.add_safe_globals.')
    return getattr(HistoryBuffer, name)


def mmengine_checkpoint_globals() -> List[SafeGlobal]:
    """The globals an mmengine checkpoint holds besides tensors.

    Returns:
        list: Entries for ``torch.serialization.add_safe_globals``.
    """
    array_reconstruct = np.ndarray(0).__reduce__()[0]
    numpy_scalar = np.float64(0).__reduce__()[0]
    dtype_classes = [type(np.dtype(t)) for t in LOGGED_NUMPY_DTYPES]
    return [
        HistoryBuffer,
        (history_buffer_statistic, 'builtins.getattr'),
        array_reconstruct,
        np.ndarray,
        np.dtype,
        numpy_scalar,
        *dtype_classes,
    ]


def register_checkpoint_safe_globals() -> None:
    """Allow-list :func:`mmengine_checkpoint_globals` for weights-only load.

    Torch versions without ``add_safe_globals`` (< 2.4) do not load
    weights-only by default and need nothing.
    """
    if hasattr(torch.serialization, 'add_safe_globals'):
        torch.serialization.add_safe_globals(mmengine_checkpoint_globals())
