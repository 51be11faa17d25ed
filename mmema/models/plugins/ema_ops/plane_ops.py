# Copyright (c) mmema contributors. All rights reserved.
"""The plane-shaped primitives of the chunked EMA passes.

EMA reduces planes along rows and columns, convolves with a single output
(or input) channel and adds separable low-rank terms. On large planes the
natural ops (reductions, shifted adds, strided windows, batched products) are
efficient; on small planes (ResNet's 7x7 and 14x14 stages) their inner
loops are a handful of elements long, so each primitive becomes one plain
GEMM of the flattened planes with a constant 0/1 operator, up to the plane
size where the operator's work (it grows with the area or its square)
outweighs the gain. The limits below were measured on a 2-core x86 CPU.
"""
from typing import Optional

import torch
from torch import Tensor

from .identity_grads import window_mask
from .neighbourhood import corner_index, neighbour_taps, sum_shifted_taps

#: Largest plane area (pixels) whose row/column sums and corners use a GEMM.
BORDERS_GEMM_MAX_AREA = 256
#: Largest plane area whose low-rank input gradient uses a GEMM.
LOW_RANK_GEMM_MAX_AREA = 256
#: Largest plane area whose 3x3 shifts use a GEMM (the operator is
#: (9 * area) x area).
SHIFT_GEMM_MAX_AREA = 100


def border_operator(h: int, w: int, like: Tensor) -> Tensor:
    """(H * W, H + W + 4) 0/1 matrix: pixel (h, w) feeds row sum h, column
    sum w and, at the corners, one of the four corner columns."""
    eye_h = torch.eye(h, dtype=like.dtype, device=like.device)
    eye_w = torch.eye(w, dtype=like.dtype, device=like.device)
    corners = like.new_zeros(h * w, 4)
    corners[corner_index(h, w, like), torch.arange(4)] = 1
    return torch.cat(
        [eye_h.repeat_interleave(w, 0),
         eye_w.repeat(h, 1), corners], dim=1)


def shift_operator(h: int, w: int, like: Tensor) -> Tensor:
    """(9, H * W, H * W) 0/1 tensor: ``[t, q, o] = 1`` if tap ``t`` of a
    padding-1 3x3 window centred on output pixel ``o`` reads pixel ``q``."""
    area = h * w
    index = torch.arange(1, area + 1, device=like.device, dtype=like.dtype)
    reads = neighbour_taps(index.view(1, 1, h, w))[0].long() - 1  # (9, HW)
    tap, out = (reads >= 0).nonzero(as_tuple=True)
    shift = like.new_zeros(9, area, area)
    shift[tap, reads[tap, out], out] = 1
    return shift


class PlaneOps:
    """Plane primitives for planes of ``h x w``.

    Args:
        h (int): Plane height.
        w (int): Plane width.
        like (Tensor): Constants take its dtype and device.
    """

    def __init__(self, h: int, w: int, like: Tensor) -> None:
        area = h * w
        self.h, self.w = h, w
        self.corners = corner_index(h, w, like)
        self.col_mask = window_mask(w, like)  # (3, W)
        self.row_mask = window_mask(h, like).t()  # (H, 3)
        self.border_gemm: Optional[Tensor] = None
        self.low_rank_gemm: Optional[Tensor] = None
        self.conv_gemm: Optional[Tensor] = None
        self.taps_gemm: Optional[Tensor] = None
        if area <= LOW_RANK_GEMM_MAX_AREA:
            borders = border_operator(h, w, like)
            if area <= BORDERS_GEMM_MAX_AREA:
                self.border_gemm = borders
            # Rows and columns spread their means' gradients; window
            # (d, e) spreads its sum's gradient over rowmask[d] x
            # colmask[e].
            windows = torch.einsum('hd,ew->dehw', self.row_mask,
                                   self.col_mask).reshape(9, area)
            self.low_rank_gemm = torch.cat(
                [borders[:, :h + w].t(), windows])
        if area <= SHIFT_GEMM_MAX_AREA:
            shift = shift_operator(h, w, like)
            self.conv_gemm = shift.view(9 * area, area)
            self.taps_gemm = shift.permute(1, 0, 2).reshape(area, 9 * area)

    def borders(self, g: Tensor, out: Tensor) -> Tensor:
        """Row sums, column sums and corners of each plane.

        Args:
            g (Tensor): (n, c, H, W), contiguous.
            out (Tensor): (n, c, H + W + 4) output; the corners are ordered
                (top-left, top-right, bottom-left, bottom-right).

        Returns:
            Tensor: ``out``.
        """
        n, c, h, w = g.shape
        flat = g.view(n, c, h * w)
        if self.border_gemm is not None:
            return torch.matmul(flat, self.border_gemm, out=out)
        self.sums(g, out[..., :h + w])
        torch.index_select(flat, 2, self.corners, out=out[..., h + w:])
        return out

    def sums(self, g: Tensor, out: Tensor) -> Tensor:
        """Row sums then column sums of each plane.

        Args:
            g (Tensor): (n, c, H, W), contiguous.
            out (Tensor): (n, c, H + W) output.

        Returns:
            Tensor: ``out``.
        """
        if self.border_gemm is not None:
            n, c = g.shape[:2]
            return torch.matmul(g.view(n, c, -1),
                                self.border_gemm[:, :self.h + self.w],
                                out=out)
        torch.sum(g, 3, out=out[..., :self.h])
        torch.sum(g, 2, out=out[..., self.h:])
        return out

    def conv(self, g: Tensor, kernel_taps: Tensor) -> Tensor:
        """3x3 convolution (padding 1) with a single output channel.

        Args:
            g (Tensor): (n, c, H, W), contiguous.
            kernel_taps (Tensor): (9, c); row ``t`` is tap ``t`` of the
                kernel (``kernel.view(c, 9).t()``).

        Returns:
            Tensor: (n, H * W).
        """
        n, c, h, w = g.shape
        per_tap = torch.matmul(kernel_taps, g.view(n, c, -1))  # (n, 9, HW)
        if self.conv_gemm is None:
            return sum_shifted_taps(per_tap.view(n, 9, h, w)).view(n, -1)
        return per_tap.view(n, -1) @ self.conv_gemm

    def taps(self, p: Tensor) -> Tensor:
        """The nine zero-padded neighbours of a single-channel map.

        Args:
            p (Tensor): (n, 1, H, W).

        Returns:
            Tensor: (n, 9, H * W), as ``F.unfold(p, 3, padding=1)``.
        """
        if self.taps_gemm is None:
            return neighbour_taps(p)
        n = p.shape[0]
        return (p.view(n, -1) @ self.taps_gemm).view(n, 9, -1)

    def add_low_rank(self, grad_g: Tensor, mean_grads: Tensor,
                     window_grads: Tensor) -> None:
        """Add the gradient that reaches ``g`` through its row and column
        means and its window sums.

        Per plane it is ``dxh[h] / W + dxw[w] / H + sum_d rowmask[d, h] *
        (dS @ colmask)[d, w]``, a rank-5 product ``U @ V``.

        Args:
            grad_g (Tensor): (n, c, H, W), contiguous; updated in place.
            mean_grads (Tensor): Gradients of the row then column means,
                already divided by W and H, (n, c, H + W).
            window_grads (Tensor): Gradients of the window sums, (n, c, 9).
        """
        n, c, h, w = grad_g.shape
        if self.low_rank_gemm is not None:
            factors = torch.cat([mean_grads, window_grads], dim=-1)
            grad_g.view(n * c, -1).addmm_(factors.view(n * c, -1),
                                          self.low_rank_gemm)
            return
        u = torch.cat([
            mean_grads[..., :h, None],
            mean_grads.new_ones(1, 1, 1, 1).expand(n, c, h, 1),
            self.row_mask.expand(n, c, h, 3)
        ], dim=-1)
        v = torch.cat([
            mean_grads.new_ones(1, 1, 1, 1).expand(n, c, 1, w),
            mean_grads[..., None, h:],
            window_grads.view(n, c, 3, 3) @ self.col_mask
        ], dim=-2)
        grad_g.view(n * c, h, w).baddbmm_(u.view(n * c, h, 5),
                                          v.view(n * c, 5, w))
