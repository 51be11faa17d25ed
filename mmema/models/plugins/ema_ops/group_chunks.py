# Copyright (c) mmema contributors. All rights reserved.
"""Cache-sized slices of the channel groups of a feature map."""
from typing import Iterator, Tuple

import torch
from torch import Tensor


class GroupChunks:
    """Splits the ``B * factor`` groups of a (B, C, H, W) tensor into
    chunks of about ``budget_bytes`` each.

    Every EMA quantity but the parameter gradients is computed per group, so
    a chunk can run its share of a pass while its data stays in the CPU
    cache: the full-size tensors cross memory once per pass.

    Contiguous tensors are viewed as (B * factor, c, H, W) and chunks span
    batch items; ``channels_last`` tensors are viewed as (B, factor, c, H,
    W) and chunks stay within one batch item.

    Args:
        x (Tensor): The input, (B, C, H, W), contiguous or channels_last.
        factor (int): Number of channel groups.
        budget_bytes (int): Target size of one chunk.
        dtype (torch.dtype): The dtype chunks are computed in.
        min_chunks (int): Make chunks smaller than the budget if needed to
            have at least this many (one per worker thread). Defaults to 1.
    """

    def __init__(self, x: Tensor, factor: int, budget_bytes: int,
                 dtype: torch.dtype, min_chunks: int = 1) -> None:
        b, c, h, w = x.shape
        self.factor = factor
        self.batch = b
        self.group_shape = (c // factor, h, w)
        self.dtype = dtype
        self.flat = x.is_contiguous()
        group_bytes = c // factor * h * w * torch.finfo(dtype).bits // 8
        groups = b * factor if self.flat else factor
        self.step = max(
            1,
            min(groups, budget_bytes // max(1, group_bytes),
                -(-b * factor // min_chunks)))

    @property
    def groups(self) -> int:
        """int: ``B * factor``."""
        return self.batch * self.factor

    def __iter__(self) -> Iterator[Tuple[int, int]]:
        """Yield ``(start, stop)`` group indices of each chunk."""
        if self.flat:
            for start in range(0, self.groups, self.step):
                yield start, min(start + self.step, self.groups)
            return
        for item in range(self.batch):
            base = item * self.factor
            for start in range(0, self.factor, self.step):
                yield base + start, base + min(start + self.step,
                                               self.factor)

    def view(self, t: Tensor, start: int, stop: int) -> Tensor:
        """Groups ``start:stop`` of ``t`` as (stop - start, c, H, W).

        Args:
            t (Tensor): (B, C, H, W), in the layout of the input given at
                construction.
            start (int): First group.
            stop (int): One past the last group.

        Returns:
            Tensor: A view into ``t`` (strided for channels_last).
        """
        if self.flat:
            return t.view(self.groups, *self.group_shape)[start:stop]
        item, first = divmod(start, self.factor)
        return t.view(self.batch, self.factor,
                      *self.group_shape)[item, first:first + stop - start]

    def dense(self, t: Tensor, start: int, stop: int) -> Tensor:
        """Groups ``start:stop`` of ``t``, contiguous and in the compute
        dtype (a view when ``t`` already is)."""
        return self.view(t, start, stop).to(self.dtype).contiguous()

    def slot(self, t: Tensor, start: int, stop: int,
             scratch: Tensor) -> Tensor:
        """Where to compute groups ``start:stop`` of an output ``t``: in
        place when that view is contiguous and of the compute dtype, else
        in ``scratch`` (at least ``step`` groups)."""
        dst = self.view(t, start, stop)
        if dst.is_contiguous() and dst.dtype == self.dtype:
            return dst
        return scratch[:stop - start]

    def store(self, src: Tensor, t: Tensor, start: int, stop: int) -> None:
        """Copy a chunk result computed by :meth:`slot` into ``t``, unless
        it was computed in place."""
        dst = self.view(t, start, stop)
        if src.data_ptr() != dst.data_ptr():
            dst.copy_(src)
