# Copyright (c) mmema contributors. All rights reserved.
"""3x3 neighbourhoods of feature planes in few ops.

EMA only ever convolves with a single output channel (forward) or a single
input channel (backward), which oneDNN serves slowly; these helpers build
both from one matrix product and one fold or strided copy.
"""
import torch
import torch.nn.functional as F
from torch import Tensor


def neighbour_taps(p: Tensor) -> Tensor:
    """The nine zero-padded 3x3 neighbours of a single-channel map.

    Equal to ``F.unfold(p, 3, padding=1)``, built by one strided copy.

    Args:
        p (Tensor): (n, 1, H, W).

    Returns:
        Tensor: (n, 9, H * W); row ``kh * 3 + kw`` holds ``p[h + kh - 1,
        w + kw - 1]`` (zero outside the plane).
    """
    n, _, h, w = p.shape
    padded = F.pad(p, (1, 1, 1, 1))
    hp, wp = h + 2, w + 2
    windows = padded.as_strided((n, 3, 3, h, w), (hp * wp, wp, 1, wp, 1))
    return windows.reshape(n, 9, h * w)


def single_output_conv3x3(g: Tensor, flipped_taps: Tensor) -> Tensor:
    """``F.conv2d(g, kernel, padding=1)`` for a kernel with one output
    channel.

    Args:
        g (Tensor): (n, c, H, W), contiguous.
        flipped_taps (Tensor): (9, c); row ``t`` is the kernel's tap
            ``8 - t`` (``kernel.view(c, 9).t().flip(0)``).

    Returns:
        Tensor: (n, 1, H, W).
    """
    n, c, h, w = g.shape
    per_tap = torch.matmul(flipped_taps, g.view(n, c, h * w))  # (n, 9, HW)
    return F.fold(per_tap, (h, w), 3, padding=1)


def corner_index(h: int, w: int, like: Tensor) -> Tensor:
    """Flat indices of a plane's corners, in the order (top-left, top-right,
    bottom-left, bottom-right).

    Args:
        h (int): Plane height.
        w (int): Plane width.
        like (Tensor): The result takes its device.

    Returns:
        Tensor: (4,) int64.
    """
    return torch.tensor([0, w - 1, (h - 1) * w, h * w - 1],
                        device=like.device)


def sum_shifted_taps(per_tap: Tensor) -> Tensor:
    """Add up nine maps, each shifted by its 3x3 tap offset, in place.

    ``out[h, w] = sum_t per_tap[t, h + dy_t, w + dx_t]`` with zero padding:
    a single-output 3x3 convolution once ``per_tap`` holds each tap's
    channel contraction. Eight in-place adds of shifted views; faster than
    ``F.fold`` on large planes, but not for tracers (use
    :func:`single_output_conv3x3` there).

    Args:
        per_tap (Tensor): (n, 9, H, W); row ``t = kh * 3 + kw`` belongs to
            the tap with offset ``(kh - 1, kw - 1)``.

    Returns:
        Tensor: (n, H, W).
    """
    _, _, h, w = per_tap.shape
    out = per_tap[:, 4].clone()
    for tap in (0, 1, 2, 3, 5, 6, 7, 8):
        dy, dx = tap // 3 - 1, tap % 3 - 1
        out[:, max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)].add_(
            per_tap[:, tap, max(0, dy):h - max(0, -dy),
                    max(0, dx):w - max(0, -dx)])
    return out
