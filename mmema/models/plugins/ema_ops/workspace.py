# Copyright (c) mmema contributors. All rights reserved.
"""Scratch memory that outlives a call, so its pages are touched once.

A fresh multi-megabyte buffer costs a page fault per 4 KiB page on first
use, which is as slow as the work done in it. Each thread keeps one flat
buffer per (dtype, device) and grows it on demand; calls view into it.
"""
import threading
from typing import Dict, Sequence, Tuple

import torch
from torch import Tensor

_local = threading.local()


def workspace(shape: Sequence[int], like: Tensor) -> Tensor:
    """An uninitialised tensor of ``shape`` backed by this thread's
    scratch buffer for ``like``'s dtype and device.

    The result is valid until the next call from the same thread with the
    same dtype and device; never return it or save it for backward.

    Args:
        shape (Sequence[int]): The wanted shape.
        like (Tensor): Gives the dtype and device.

    Returns:
        Tensor: A contiguous view of the buffer.
    """
    buffers: Dict[Tuple[torch.dtype, torch.device], Tensor] = getattr(
        _local, 'buffers', {})
    _local.buffers = buffers
    numel = 1
    for size in shape:
        numel *= size
    key = (like.dtype, like.device)
    buffer = buffers.get(key)
    if buffer is None or buffer.numel() < numel:
        buffer = like.new_empty(numel)
        buffers[key] = buffer
    return buffer[:numel].view(*shape)
