# Copyright (c) mmema contributors. All rights reserved.
"""The parameters every EMA path takes, gathered in one tuple."""
from typing import NamedTuple

from torch import Tensor


class EMAParams(NamedTuple):
    """EMA's learned tensors, shared by all channel groups (``c`` channels
    per group), and GroupNorm's epsilon.

    Attributes:
        w1 (Tensor): ``conv1x1.weight``, (c, c, 1, 1).
        b1 (Tensor): ``conv1x1.bias``, (c,).
        w3 (Tensor): ``conv3x3.weight``, (c, c, 3, 3).
        b3 (Tensor): ``conv3x3.bias``, (c,).
        gn_w (Tensor): ``gn.weight``, (c,).
        gn_b (Tensor): ``gn.bias``, (c,).
        eps (float): ``gn.eps``.
    """

    w1: Tensor
    b1: Tensor
    w3: Tensor
    b3: Tensor
    gn_w: Tensor
    gn_b: Tensor
    eps: float
