# Copyright (c) mmema contributors. All rights reserved.
"""Everything a chunked EMA pass needs that does not depend on the data."""
from functools import lru_cache
from typing import NamedTuple, Tuple

import torch
from torch import Tensor

from .identities import cross_spatial_kernel, window_operator
from .identity_grads import mean_scale
from .params import EMAParams
from .plane_ops import PlaneOps


class ChunkPlan(NamedTuple):
    """Constants of one forward or backward call, built once per call.

    Attributes:
        params (EMAParams): Parameters in the compute dtype.
        x11 (Tensor): ``softmax(gn.bias)``, (c,).
        kernel_taps (Tensor): Merged 3x3 kernel as (9, c), row ``t`` is
            tap ``t``.
        flipped_kernel (Tensor): Merged 3x3 kernel as (c, 9), taps
            reversed.
        kernel_bias (Tensor): Merged kernel's bias, (1,).
        window_operator (Tensor): Maps row sums, column sums and corners
            to the window sums of the 3x3 taps, (H + W + 4, 9).
        mean_scale (Tensor): Turns row and column sums into means, (H + W,).
        ops (PlaneOps): Plane primitives for this plane size.
    """

    params: EMAParams
    x11: Tensor
    kernel_taps: Tensor
    flipped_kernel: Tensor
    kernel_bias: Tensor
    window_operator: Tensor
    mean_scale: Tensor
    ops: PlaneOps


@lru_cache(maxsize=32)
def plane_constants(h: int, w: int, dtype: torch.dtype,
                    device: torch.device) -> Tuple[Tensor, Tensor, PlaneOps]:
    """The constants that depend only on the plane size, built once.

    Args:
        h (int): Plane height.
        w (int): Plane width.
        dtype (torch.dtype): Their dtype.
        device (torch.device): Their device.

    Returns:
        tuple: The window operator, the mean scale and the plane ops.
    """
    like = torch.empty(0, dtype=dtype, device=device)
    return (window_operator(h, w, like), mean_scale(h, w, like),
            PlaneOps(h, w, like))


def make_plan(params: EMAParams, h: int, w: int) -> ChunkPlan:
    """Build the constants for planes of ``h x w``.

    Args:
        params (EMAParams): Parameters in the compute dtype.
        h (int): Plane height.
        w (int): Plane width.

    Returns:
        ChunkPlan: The constants.
    """
    x11, kernel, kernel_bias = cross_spatial_kernel(params.w3, params.b3,
                                                    params.gn_b)
    kernel = kernel.view(-1, 9)
    return ChunkPlan(params, x11, kernel.t(), kernel.flip(-1), kernel_bias,
                     *plane_constants(h, w, params.w3.dtype,
                                      params.w3.device))
