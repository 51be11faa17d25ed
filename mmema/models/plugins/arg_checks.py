# Copyright (c) mmema contributors. All rights reserved.
"""Argument and input checks shared by the attention plugins.

Each raises an error that names the plugin, the problem and the fix.
"""
from typing import Optional

import torch


def check_int(owner: str, name: str, value: object,
              minimum: Optional[int] = None) -> None:
    """Require ``value`` to be an int (not a bool), at least ``minimum``.

    Args:
        owner (str): The plugin's name, e.g. ``'EMA'``.
        name (str): The argument's name.
        value (object): The argument's value.
        minimum (int, optional): Smallest allowed value. Defaults to None
            (no bound).
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f'{owner}: {name} must be an int, got {value!r} '
                        f'({type(value).__name__}).')
    if minimum is not None and value < minimum:
        raise ValueError(
            f'{owner}: {name} must be >= {minimum}, got {value}.')


def check_positive_ints(owner: str, **values: object) -> None:
    """Require each keyword argument to be an int >= 1.

    Args:
        owner (str): The plugin's name.
        **values: Argument names and values, checked in order.
    """
    for name, value in values.items():
        check_int(owner, name, value, minimum=1)


def check_feature_map(owner: str, x: torch.Tensor, in_channels: int) -> None:
    """Require ``x`` to be a (B, in_channels, H, W) feature map.

    Args:
        owner (str): The plugin's name.
        x (Tensor): The plugin's input.
        in_channels (int): Channels the plugin was built with.
    """
    if x.dim() != 4:
        raise ValueError(f'{owner} expects a 4D input (B, C, H, W), got '
                         f'shape {tuple(x.shape)}.')
    if x.shape[1] != in_channels:
        raise ValueError(
            f'{owner} was built with in_channels={in_channels} but got an '
            f'input with {x.shape[1]} channels (shape {tuple(x.shape)}).')
