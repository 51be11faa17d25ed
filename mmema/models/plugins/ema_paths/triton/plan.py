# Copyright (c) mmema contributors. All rights reserved.
"""What the Triton path's passes need that does not depend on the data."""
from functools import lru_cache
from typing import NamedTuple, Tuple

import torch
from torch import Tensor

from ..identities import (corner_index, cross_spatial_kernel, mean_scale,
                          window_operator)
from ..params import EMAParams


class TritonPlan(NamedTuple):
    """Constants of one forward or backward call, built once per call.

    Attributes:
        params (EMAParams): Parameters in float32.
        h (int): Plane height.
        w (int): Plane width.
        x11 (Tensor): ``softmax(gn.bias)``, (c,).
        kernel_taps (Tensor): Merged 3x3 kernel as (9, c), row ``t`` is
            tap ``t``.
        flipped_kernel (Tensor): Merged 3x3 kernel as (c, 9), taps
            reversed.
        kernel_bias (Tensor): Merged kernel's bias, (1,).
        window_operator (Tensor): Maps row sums, column sums and corners
            to the window sums of the 3x3 taps, (H + W + 4, 9).
        mean_scale (Tensor): Turns row and column sums into means, (H + W,).
        corners (Tensor): Flat indices of the plane's corners, (4,).
    """

    params: EMAParams
    h: int
    w: int
    x11: Tensor
    kernel_taps: Tensor
    flipped_kernel: Tensor
    kernel_bias: Tensor
    window_operator: Tensor
    mean_scale: Tensor
    corners: Tensor


@lru_cache(maxsize=32)
def plane_constants(h: int, w: int, dtype: torch.dtype,
                    device: torch.device) -> Tuple[Tensor, Tensor, Tensor]:
    """The constants that depend only on the plane size, built once.

    Args:
        h (int): Plane height.
        w (int): Plane width.
        dtype (torch.dtype): Their dtype.
        device (torch.device): Their device.

    Returns:
        tuple[Tensor]: The window operator, the mean scale and the corner
        indices.
    """
    like = torch.empty(0, dtype=dtype, device=device)
    return (window_operator(h, w, like), mean_scale(h, w, like),
            corner_index(h, w, like))


def make_plan(params: EMAParams, h: int, w: int) -> TritonPlan:
    """Build the constants for planes of ``h x w``.

    Args:
        params (EMAParams): Parameters in float32.
        h (int): Plane height.
        w (int): Plane width.

    Returns:
        TritonPlan: The constants.
    """
    x11, kernel, kernel_bias = cross_spatial_kernel(params.w3, params.b3,
                                                    params.gn_b)
    kernel = kernel.view(-1, 9)
    return TritonPlan(params, h, w, x11, kernel.t(), kernel.flip(-1),
                      kernel_bias,
                      *plane_constants(h, w, params.w3.dtype,
                                       params.w3.device))
