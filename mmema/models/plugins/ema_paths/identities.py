# Copyright (c) mmema contributors. All rights reserved.
"""Exact identities that shrink EMA's forward to small tensors.

EMA moves its ``G`` channel groups into the batch: ``g`` has shape
(N, c, H, W) with ``N = B * G``. Every function here works on per-group
statistics of ``g`` (shapes (N, c, H), (N, c, W), (N, c), ...), never on a
full-size tensor; the composite and the Triton paths share them, and the
compiled CPU kernels (``mmema/csrc``) compute the same in C++.

The identities (each exact in real arithmetic):

* ``mean_HW(gn(z)) == gn.bias`` for a GroupNorm with one channel per group,
  so ``x11 = softmax(gn.bias)`` does not depend on the input.
* ``x11 @ conv3x3(g)`` is one 3x3 convolution of ``g`` with the single
  output channel ``sum_o x11[o] * conv3x3.weight[o]``.
* ``mean_HW(conv3x3(g))`` needs, per input channel and tap, the sum of ``g``
  over the window the tap reads: the total sum minus the border row and
  column that fall outside the window, plus their shared corner.
* ``x21 @ gn(z) = sum_o coef[o] * (z[o] - mean[o]) + x21 @ gn.bias`` with
  ``coef = x21 * gn.weight * rstd``.
"""
from typing import Tuple

import torch
from torch import Tensor


def edge_selector(like: Tensor) -> Tensor:
    """Matrix that maps the (first, last) border of an axis to the 3 taps.

    A 3x3 tap with offset ``d`` in {-1, 0, 1} along an axis reads positions
    ``i + d``; the position it never reads is the last one for ``d = -1``,
    none for ``d = 0`` and the first one for ``d = 1``.

    Args:
        like (Tensor): The result takes its dtype and device.

    Returns:
        Tensor: (3, 2) selector; row ``d + 1`` picks from (first, last).
    """
    # A constant, not an index assignment: exporters see one initializer.
    return torch.tensor([[0., 1.], [0., 0.], [1., 0.]],
                        dtype=like.dtype,
                        device=like.device)


def ends(t: Tensor, dim: int) -> Tensor:
    """The first and the last entry of ``t`` along ``dim``, in that order.

    Two slices and a concatenation (exporters get Slice and Concat, no
    Gather).

    Args:
        t (Tensor): Any tensor.
        dim (int): The dimension.

    Returns:
        Tensor: ``t`` with ``dim`` of size 2.
    """
    first, last = [slice(None)] * t.dim(), [slice(None)] * t.dim()
    first[dim], last[dim] = slice(0, 1), slice(-1, None)
    return torch.cat([t[tuple(first)], t[tuple(last)]], dim)


def plane_corners(g: Tensor) -> Tensor:
    """The four corner values of each plane.

    Args:
        g (Tensor): Grouped input of shape (N, c, H, W).

    Returns:
        Tensor: (N, c, 2, 2), indexed [first/last row, first/last column].
    """
    return ends(ends(g, 2), 3)


def window_sums(row_sums: Tensor, col_sums: Tensor, corners: Tensor,
                selector: Tensor) -> Tensor:
    """Sum of each plane over the window that each 3x3 tap reads.

    Args:
        row_sums (Tensor): Sums over W, (N, c, H).
        col_sums (Tensor): Sums over H, (N, c, W).
        corners (Tensor): Corner values, (N, c, 2, 2), indexed
            [first/last row, first/last column].
        selector (Tensor): :func:`edge_selector`, (3, 2).

    Returns:
        Tensor: (N, c, 3, 3); entry [kh, kw] is the sum of the input values
        that tap (kh, kw) of a padding-1 3x3 convolution multiplies.
    """
    missed_rows = ends(row_sums, -1) @ selector.t()  # (N, c, 3)
    missed_cols = ends(col_sums, -1) @ selector.t()  # (N, c, 3)
    missed_corners = selector @ corners @ selector.t()  # (N, c, 3, 3)
    return (row_sums.sum(-1)[..., None, None] -
            missed_rows.unsqueeze(-1) - missed_cols.unsqueeze(-2) +
            missed_corners)


def window_operator(h: int, w: int, like: Tensor) -> Tensor:
    """Constant map from ``[row sums, column sums, corners]`` to the window
    sums of :func:`window_sums`, for batches of many small planes.

    Args:
        h (int): Plane height.
        w (int): Plane width.
        like (Tensor): The result takes its dtype and device.

    Returns:
        Tensor: (H + W + 4, 9); the corners are ordered (top-left,
        top-right, bottom-left, bottom-right).
    """
    sel = edge_selector(like)  # (3, 2): tap offset -> (first, last) missed
    rows = like.new_ones(h, 3, 3)
    cols = like.new_zeros(w, 3, 3)
    for end, missed_by in zip((0, -1), sel.t()):  # H or W may be 1
        rows[end] -= missed_by[:, None]
        cols[end] -= missed_by[None, :]
    corners = torch.einsum('ka,lb->abkl', sel, sel).reshape(4, 3, 3)
    return torch.cat([rows, cols, corners]).view(-1, 9)


def conv3x3_channel_means(sums: Tensor, weight: Tensor, bias: Tensor,
                          area: int) -> Tensor:
    """``mean_HW(conv3x3(g))`` from the window sums, without the conv.

    Args:
        sums (Tensor): Window sums from :func:`window_sums`, (N, c, 3, 3).
        weight (Tensor): ``conv3x3.weight``, (c, c, 3, 3).
        bias (Tensor): ``conv3x3.bias``, (c,).
        area (int): ``H * W``.

    Returns:
        Tensor: Channel means of the 3x3 branch, (N, c).
    """
    return torch.addmm(bias, sums.flatten(1), weight.flatten(1).t() / area)


def directional_gates(means: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """Sigmoid gates of the 1x1 branch from the directional means.

    Args:
        means (Tensor): Row means (over W) then column means (over H),
            (N, c, H + W).
        weight (Tensor): ``conv1x1.weight``, (c, c, 1, 1).
        bias (Tensor): ``conv1x1.bias``, (c,).

    Returns:
        Tensor: (N, c, H + W): ``sigmoid(conv1x1(mean over W))`` for the H
        rows, then ``sigmoid(conv1x1(mean over H))`` for the W columns.
    """
    return torch.sigmoid(
        torch.matmul(weight.flatten(1), means) + bias.unsqueeze(-1))


def cross_spatial_kernel(weight: Tensor, bias: Tensor,
                         gn_bias: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """The 3x3 branch as seen through ``x11``: one single-output conv.

    Args:
        weight (Tensor): ``conv3x3.weight``, (c, c, 3, 3).
        bias (Tensor): ``conv3x3.bias``, (c,).
        gn_bias (Tensor): ``gn.bias``, (c,).

    Returns:
        tuple[Tensor]: ``x11 = softmax(gn.bias)`` (c,), the merged kernel
        (1, c, 3, 3) and its bias (1,).
    """
    x11 = torch.softmax(gn_bias, dim=0)
    kernel = (x11 @ weight.flatten(1)).view(1, *weight.shape[1:])
    return x11, kernel, (x11 @ bias).view(1)


def mean_scale(h: int, w: int, like: Tensor) -> Tensor:
    """``1 / W`` for the H row sums and ``1 / H`` for the W column sums.

    Args:
        h (int): Plane height.
        w (int): Plane width.
        like (Tensor): The result takes its dtype and device.

    Returns:
        Tensor: (H + W,), turning row and column sums into means.
    """
    scale = torch.full((h + w, ), 1.0 / w, dtype=like.dtype,
                       device=like.device)
    scale[h:] = 1.0 / h
    return scale


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
