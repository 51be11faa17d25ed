# Copyright (c) mmema contributors. All rights reserved.
"""Triton kernels for EMA's full-size passes on CUDA tensors.

Each kernel streams the feature map once; the per-group algebra between
them runs in PyTorch on small tensors (:mod:`.group_algebra`). Tensors of
shape (N, c, H, W) are contiguous; per-group tensors are contiguous
float32. Loads are converted to float32, so fp16 and bf16 maps are computed
in float32 and only stored in their own dtype.

Forward: :func:`plane_sums` (row and column sums), :func:`plane_moments`
(GroupNorm statistics of ``z``), :func:`logits_and_output` (the merged 3x3
convolution, the cross-spatial logits, the sigmoid and ``y``): 4 reads and
1 write of the map. Backward: :func:`logit_grad`, :func:`plane_grad_sums`,
:func:`plane_sums` of ``dz * z`` and :func:`input_grad`.

Run on CPU tensors under ``TRITON_INTERPRET=1`` for testing.
"""
from typing import Tuple

import torch
import triton
import triton.language as tl
from torch import Tensor

#: Most elements a program holds in one tile.
TILE_ELEMENTS = 2048
#: Widest plane the kernels handle (one tile row spans the width).
MAX_WIDTH = 2048


@triton.jit
def _plane_sums_kernel(g_ptr, p_ptr, gates_ptr, coefs_ptr, out_ptr, c, H, W,
                       planes, MODE: tl.constexpr, BLOCK_H: tl.constexpr,
                       BLOCK_W: tl.constexpr):
    """Row then column sums of each plane of ``g`` (MODE 0) or of ``dz *
    z`` (MODE 1), into ``out`` (planes, H + W)."""
    plane = tl.program_id(0)
    n = plane // c
    cols = tl.arange(0, BLOCK_W)
    col_ok = cols < W
    col_acc = tl.zeros([BLOCK_W], dtype=tl.float32)
    if MODE == 1:
        gate_w = tl.load(gates_ptr + plane * (H + W) + H + cols, mask=col_ok,
                         other=0.0)
        coef_p = tl.load(coefs_ptr + plane)
        offset = tl.load(coefs_ptr + planes + plane)
        coef_z = tl.load(coefs_ptr + 2 * planes + plane)
    for h0 in range(0, H, BLOCK_H):
        rows = h0 + tl.arange(0, BLOCK_H)
        row_ok = rows < H
        ok = row_ok[:, None] & col_ok[None, :]
        pix = rows[:, None] * W + cols[None, :]
        v = tl.load(g_ptr + plane * H * W + pix, mask=ok,
                    other=0.0).to(tl.float32)
        if MODE == 1:
            gate_h = tl.load(gates_ptr + plane * (H + W) + rows, mask=row_ok,
                             other=0.0)
            z = v * gate_h[:, None] * gate_w[None, :]
            p = tl.load(p_ptr + n * H * W + pix, mask=ok, other=0.0)
            v = tl.where(ok, (coef_p * p + offset + coef_z * z) * z, 0.0)
        tl.store(out_ptr + plane * (H + W) + rows, tl.sum(v, axis=1),
                 mask=row_ok)
        col_acc += tl.sum(v, axis=0)
    tl.store(out_ptr + plane * (H + W) + H + cols, col_acc, mask=col_ok)


@triton.jit
def _z_tile(g_ptr, gates_ptr, plane, h0, H, W, cols, col_ok, gate_w,
            BLOCK_H: tl.constexpr):
    """One tile of rows of ``z = g * gate_h * gate_w`` (zero outside the
    plane) and its mask."""
    rows = h0 + tl.arange(0, BLOCK_H)
    ok = (rows < H)[:, None] & col_ok[None, :]
    v = tl.load(g_ptr + plane * H * W + rows[:, None] * W + cols[None, :],
                mask=ok, other=0.0).to(tl.float32)
    gate_h = tl.load(gates_ptr + plane * (H + W) + rows, mask=rows < H,
                     other=0.0)
    return v * gate_h[:, None] * gate_w[None, :], ok


@triton.jit
def _plane_moments_kernel(g_ptr, gates_ptr, mean_ptr, rstd_ptr, H, W, eps,
                          BLOCK_H: tl.constexpr, BLOCK_W: tl.constexpr):
    """Mean and ``1 / sqrt(var + eps)`` of ``z = g * gate_h * gate_w`` per
    plane, in two passes (the second re-reads the plane from cache)."""
    plane = tl.program_id(0)
    cols = tl.arange(0, BLOCK_W)
    col_ok = cols < W
    gate_w = tl.load(gates_ptr + plane * (H + W) + H + cols, mask=col_ok,
                     other=0.0)
    total = tl.zeros([BLOCK_W], dtype=tl.float32)
    for h0 in range(0, H, BLOCK_H):
        z, ok = _z_tile(g_ptr, gates_ptr, plane, h0, H, W, cols, col_ok,
                        gate_w, BLOCK_H)
        total += tl.sum(z, axis=0)
    mean = tl.sum(total, axis=0) / (H * W)
    squares = tl.zeros([BLOCK_W], dtype=tl.float32)
    for h0 in range(0, H, BLOCK_H):
        z, ok = _z_tile(g_ptr, gates_ptr, plane, h0, H, W, cols, col_ok,
                        gate_w, BLOCK_H)
        centred = tl.where(ok, z - mean, 0.0)
        squares += tl.sum(centred * centred, axis=0)
    tl.store(mean_ptr + plane, mean)
    tl.store(rstd_ptr + plane,
             1.0 / tl.sqrt(tl.sum(squares, axis=0) / (H * W) + eps))


@triton.jit
def _logits_and_output_kernel(g_ptr, y_ptr, logits_ptr, attn_ptr, taps_ptr,
                              coef_ptr, mean_ptr, gates_ptr, offset_ptr, c, H,
                              W, BLOCK_H: tl.constexpr,
                              BLOCK_W: tl.constexpr):
    """Logits, attention map and ``y = g * attn`` of a block of rows."""
    n = tl.program_id(0)
    rows = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)
    cols = tl.arange(0, BLOCK_W)
    row_ok, col_ok = rows < H, cols < W
    ok = row_ok[:, None] & col_ok[None, :]
    acc = tl.zeros([BLOCK_H, BLOCK_W], dtype=tl.float32)
    for o in range(c):
        plane = n * c + o
        for t in tl.static_range(9):
            r = rows + (t // 3 - 1)
            q = cols + (t % 3 - 1)
            inside = (ok & ((r >= 0) & (r < H))[:, None]
                      & ((q >= 0) & (q < W))[None, :])
            v = tl.load(g_ptr + plane * H * W + r[:, None] * W + q[None, :],
                        mask=inside, other=0.0).to(tl.float32)
            acc += tl.load(taps_ptr + t * c + o) * v
        v = tl.load(g_ptr + plane * H * W + rows[:, None] * W + cols[None, :],
                    mask=ok, other=0.0).to(tl.float32)
        gate_h = tl.load(gates_ptr + plane * (H + W) + rows, mask=row_ok,
                         other=0.0)
        gate_w = tl.load(gates_ptr + plane * (H + W) + H + cols, mask=col_ok,
                         other=0.0)
        z = v * gate_h[:, None] * gate_w[None, :]
        acc += tl.load(coef_ptr + plane) * (z - tl.load(mean_ptr + plane))
    logits = acc + tl.load(offset_ptr + n)
    attn = tl.sigmoid(logits)
    pix = rows[:, None] * W + cols[None, :]
    tl.store(logits_ptr + n * H * W + pix, logits, mask=ok)
    tl.store(attn_ptr + n * H * W + pix, attn, mask=ok)
    for o in range(c):
        v = tl.load(g_ptr + (n * c + o) * H * W + pix, mask=ok,
                    other=0.0).to(tl.float32)
        tl.store(y_ptr + (n * c + o) * H * W + pix,
                 (v * attn).to(y_ptr.dtype.element_ty), mask=ok)


@triton.jit
def _logit_grad_kernel(g_ptr, dy_ptr, attn_ptr, p_ptr, c, H, W,
                       BLOCK_H: tl.constexpr, BLOCK_W: tl.constexpr):
    """``p = sum_c(dy * g) * s * (1 - s)`` for a block of rows."""
    n = tl.program_id(0)
    rows = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)
    cols = tl.arange(0, BLOCK_W)
    ok = (rows < H)[:, None] & (cols < W)[None, :]
    pix = rows[:, None] * W + cols[None, :]
    acc = tl.zeros([BLOCK_H, BLOCK_W], dtype=tl.float32)
    for o in range(c):
        offs = (n * c + o) * H * W + pix
        acc += (tl.load(g_ptr + offs, mask=ok, other=0.0).to(tl.float32) *
                tl.load(dy_ptr + offs, mask=ok, other=0.0).to(tl.float32))
    s = tl.load(attn_ptr + n * H * W + pix, mask=ok, other=0.0)
    tl.store(p_ptr + n * H * W + pix, acc * s * (1.0 - s), mask=ok)


@triton.jit
def _plane_grad_sums_kernel(g_ptr, p_ptr, gates_ptr, share_ptr, pz_ptr, c, H,
                            W, BLOCK_H: tl.constexpr, BLOCK_W: tl.constexpr):
    """Per plane: ``share[t] = sum g[h, w] * p[h + dy_t, w + dx_t]`` (the
    merged kernel's gradient, taps as ``F.unfold`` orders them) and
    ``sum p * z``."""
    plane = tl.program_id(0)
    n = plane // c
    cols = tl.arange(0, BLOCK_W)
    col_ok = cols < W
    gate_w = tl.load(gates_ptr + plane * (H + W) + H + cols, mask=col_ok,
                     other=0.0)
    slots = tl.arange(0, 16)
    share = tl.zeros([16], dtype=tl.float32)
    pz = tl.zeros([BLOCK_W], dtype=tl.float32)
    for h0 in range(0, H, BLOCK_H):
        rows = h0 + tl.arange(0, BLOCK_H)
        row_ok = rows < H
        ok = row_ok[:, None] & col_ok[None, :]
        v = tl.load(g_ptr + plane * H * W + rows[:, None] * W + cols[None, :],
                    mask=ok, other=0.0).to(tl.float32)
        for t in tl.static_range(9):
            r = rows + (t // 3 - 1)
            q = cols + (t % 3 - 1)
            inside = (ok & ((r >= 0) & (r < H))[:, None]
                      & ((q >= 0) & (q < W))[None, :])
            p = tl.load(p_ptr + n * H * W + r[:, None] * W + q[None, :],
                        mask=inside, other=0.0)
            share += tl.where(slots == t, tl.sum(tl.sum(v * p, axis=1),
                                                 axis=0), 0.0)
            if t == 4:
                gate_h = tl.load(gates_ptr + plane * (H + W) + rows,
                                 mask=row_ok, other=0.0)
                pz += tl.sum(v * gate_h[:, None] * gate_w[None, :] * p,
                             axis=0)
    tl.store(share_ptr + plane * 9 + slots, share, mask=slots < 9)
    tl.store(pz_ptr + plane, tl.sum(pz, axis=0))


@triton.jit
def _input_grad_kernel(g_ptr, dy_ptr, attn_ptr, p_ptr, gates_ptr, coefs_ptr,
                       flipped_ptr, mean_grads_ptr, window_grads_ptr, dx_ptr,
                       c, H, W, planes, BLOCK_H: tl.constexpr,
                       BLOCK_W: tl.constexpr):
    """Input gradient of a block of rows:
    ``dy * s + convT(p) + dz * gate_h * gate_w + low-rank terms``."""
    n = tl.program_id(0)
    rows = tl.program_id(1) * BLOCK_H + tl.arange(0, BLOCK_H)
    cols = tl.arange(0, BLOCK_W)
    row_ok, col_ok = rows < H, cols < W
    ok = row_ok[:, None] & col_ok[None, :]
    pix = rows[:, None] * W + cols[None, :]
    s = tl.load(attn_ptr + n * H * W + pix, mask=ok, other=0.0)
    p = tl.load(p_ptr + n * H * W + pix, mask=ok, other=0.0)
    for o in range(c):
        plane = n * c + o
        offs = plane * H * W + pix
        v = tl.load(g_ptr + offs, mask=ok, other=0.0).to(tl.float32)
        dy = tl.load(dy_ptr + offs, mask=ok, other=0.0).to(tl.float32)
        gate_h = tl.load(gates_ptr + plane * (H + W) + rows, mask=row_ok,
                         other=0.0)
        gate_w = tl.load(gates_ptr + plane * (H + W) + H + cols, mask=col_ok,
                         other=0.0)
        product = gate_h[:, None] * gate_w[None, :]
        dz = (tl.load(coefs_ptr + plane) * p +
              tl.load(coefs_ptr + planes + plane) +
              tl.load(coefs_ptr + 2 * planes + plane) * v * product)
        grad = dy * s + dz * product
        for t in tl.static_range(9):
            r = rows + (t // 3 - 1)
            q = cols + (t % 3 - 1)
            inside = (ok & ((r >= 0) & (r < H))[:, None]
                      & ((q >= 0) & (q < W))[None, :])
            tap = tl.load(p_ptr + n * H * W + r[:, None] * W + q[None, :],
                          mask=inside, other=0.0)
            grad += tl.load(flipped_ptr + o * 9 + t) * tap
            # Window t covers the rows and columns its tap offset reads.
            window = tl.where(row_ok, 1.0, 0.0)
            if t // 3 == 0:
                window = tl.where(rows < H - 1, window, 0.0)
            if t // 3 == 2:
                window = tl.where(rows > 0, window, 0.0)
            across = tl.where(col_ok, 1.0, 0.0)
            if t % 3 == 0:
                across = tl.where(cols < W - 1, across, 0.0)
            if t % 3 == 2:
                across = tl.where(cols > 0, across, 0.0)
            grad += (tl.load(window_grads_ptr + plane * 9 + t) *
                     window[:, None] * across[None, :])
        grad += tl.load(
            mean_grads_ptr + plane * (H + W) + rows, mask=row_ok,
            other=0.0)[:, None]
        grad += tl.load(
            mean_grads_ptr + plane * (H + W) + H + cols, mask=col_ok,
            other=0.0)[None, :]
        tl.store(dx_ptr + offs, grad.to(dx_ptr.dtype.element_ty), mask=ok)


def tiles(h: int, w: int, budget: int = TILE_ELEMENTS) -> Tuple[int, int]:
    """Tile (rows, columns) for planes of ``h x w``: whole rows, as many as
    fit ``budget`` elements.

    Args:
        h (int): Plane height.
        w (int): Plane width, at most :data:`MAX_WIDTH`.
        budget (int): Elements per tile.

    Returns:
        tuple[int]: Powers of two ``(BLOCK_H, BLOCK_W)``.
    """
    block_w = triton.next_power_of_2(w)
    block_h = min(triton.next_power_of_2(h), max(1, budget // block_w))
    return block_h, block_w


def plane_sums(g: Tensor, out: Tensor, p: Tensor = None,
               gates: Tensor = None, coefs: Tensor = None) -> Tensor:
    """Row then column sums of each plane of ``g``, or of ``dz * z`` when
    ``p``, ``gates`` and ``coefs`` are given.

    Args:
        g (Tensor): (N, c, H, W).
        out (Tensor): (N, c, H + W) float32 output.
        p (Tensor, optional): Gradient of the logits, (N, 1, H, W).
        gates (Tensor, optional): Row then column gates, (N, c, H + W).
        coefs (Tensor, optional): ``A, B, C`` of ``dz``, (3, N, c).

    Returns:
        Tensor: ``out``.
    """
    n, c, h, w = g.shape
    block_h, block_w = tiles(h, w)
    mode = 0 if p is None else 1
    _plane_sums_kernel[(n * c, )](g, out if p is None else p,
                                  out if gates is None else gates,
                                  out if coefs is None else coefs, out, c, h,
                                  w, n * c, MODE=mode, BLOCK_H=block_h,
                                  BLOCK_W=block_w)
    return out


def plane_moments(g: Tensor, gates: Tensor, eps: float) -> Tuple[Tensor,
                                                                  Tensor]:
    """Mean and reciprocal std of ``z = g * gate_h * gate_w`` per plane.

    Args:
        g (Tensor): (N, c, H, W).
        gates (Tensor): (N, c, H + W) float32.
        eps (float): GroupNorm's epsilon.

    Returns:
        tuple[Tensor]: (N, c) float32 each.
    """
    n, c, h, w = g.shape
    mean = gates.new_empty(n, c)
    rstd = gates.new_empty(n, c)
    block_h, block_w = tiles(h, w)
    _plane_moments_kernel[(n * c, )](g, gates, mean, rstd, h, w, eps,
                                     BLOCK_H=block_h, BLOCK_W=block_w)
    return mean, rstd


def logits_and_output(g: Tensor, kernel_taps: Tensor, coef: Tensor,
                      mean: Tensor, gates: Tensor, offset: Tensor,
                      y: Tensor) -> Tuple[Tensor, Tensor]:
    """Logits, attention map and output.

    Args:
        g (Tensor): (N, c, H, W).
        kernel_taps (Tensor): Merged 3x3 kernel as (9, c), float32.
        coef (Tensor): (N, c) float32.
        mean (Tensor): (N, c) float32.
        gates (Tensor): (N, c, H + W) float32.
        offset (Tensor): (N,) float32.
        y (Tensor): (N, c, H, W) output.

    Returns:
        tuple[Tensor]: Logits and attention map, (N, 1, H, W) float32.
    """
    n, c, h, w = g.shape
    logits = gates.new_empty(n, 1, h, w)
    attn = torch.empty_like(logits)
    block_h, block_w = tiles(h, w)
    _logits_and_output_kernel[(n, triton.cdiv(h, block_h))](
        g, y, logits, attn, kernel_taps.contiguous(), coef, mean, gates,
        offset, c, h, w, BLOCK_H=block_h, BLOCK_W=block_w)
    return logits, attn


def logit_grad(g: Tensor, grad_y: Tensor, attn: Tensor) -> Tensor:
    """Gradient of the logits.

    Args:
        g (Tensor): (N, c, H, W).
        grad_y (Tensor): (N, c, H, W).
        attn (Tensor): (N, 1, H, W) float32.

    Returns:
        Tensor: (N, 1, H, W) float32.
    """
    n, c, h, w = g.shape
    p = torch.empty_like(attn)
    block_h, block_w = tiles(h, w)
    _logit_grad_kernel[(n, triton.cdiv(h, block_h))](
        g, grad_y, attn, p, c, h, w, BLOCK_H=block_h, BLOCK_W=block_w)
    return p


def plane_grad_sums(g: Tensor, p: Tensor,
                    gates: Tensor) -> Tuple[Tensor, Tensor]:
    """The merged kernel's gradient shares and ``sum p * z`` per plane.

    Args:
        g (Tensor): (N, c, H, W).
        p (Tensor): (N, 1, H, W) float32.
        gates (Tensor): (N, c, H + W) float32.

    Returns:
        tuple[Tensor]: (N, c, 9) and (N, c), float32.
    """
    n, c, h, w = g.shape
    share = gates.new_empty(n, c, 9)
    sum_pz = gates.new_empty(n, c)
    block_h, block_w = tiles(h, w, TILE_ELEMENTS // 2)
    _plane_grad_sums_kernel[(n * c, )](g, p, gates, share, sum_pz, c, h, w,
                                       BLOCK_H=block_h, BLOCK_W=block_w)
    return share, sum_pz


def input_grad(g: Tensor, grad_y: Tensor, attn: Tensor, p: Tensor,
               gates: Tensor, coefs: Tensor, flipped_kernel: Tensor,
               mean_grads: Tensor, window_grads: Tensor,
               grad_x: Tensor) -> Tensor:
    """Input gradient into ``grad_x``.

    Args:
        g (Tensor): (N, c, H, W).
        grad_y (Tensor): (N, c, H, W).
        attn (Tensor): (N, 1, H, W) float32.
        p (Tensor): (N, 1, H, W) float32.
        gates (Tensor): (N, c, H + W) float32.
        coefs (Tensor): ``A, B, C`` of ``dz``, (3, N, c) float32.
        flipped_kernel (Tensor): Merged kernel, taps reversed, (c, 9).
        mean_grads (Tensor): (N, c, H + W) float32.
        window_grads (Tensor): (N, c, 9) float32.
        grad_x (Tensor): (N, c, H, W) output.

    Returns:
        Tensor: ``grad_x``.
    """
    n, c, h, w = g.shape
    block_h, block_w = tiles(h, w, TILE_ELEMENTS // 2)
    _input_grad_kernel[(n, triton.cdiv(h, block_h))](
        g, grad_y, attn, p, gates, coefs, flipped_kernel.contiguous(),
        mean_grads, window_grads, grad_x, c, h, w, n * c, BLOCK_H=block_h,
        BLOCK_W=block_w)
    return grad_x
