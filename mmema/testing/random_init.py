# Copyright (c) mmema contributors. All rights reserved.
"""Random initialisation helpers for tests that compare two models."""
import torch
import torch.nn as nn


def randomize_norms_(module: nn.Module) -> None:
    """Random BN statistics and affine terms, so no norm is an identity.

    Args:
        module (nn.Module): Model whose BatchNorm2d and GroupNorm layers are
            re-initialised in place (seeded, so two calls agree).
    """
    gen = torch.Generator().manual_seed(0)
    for m in module.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
            m.weight.data = torch.rand(m.weight.shape, generator=gen) + 0.5
            m.bias.data = torch.randn(m.bias.shape, generator=gen)
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean = torch.randn(m.running_mean.shape, generator=gen)
            m.running_var = torch.rand(m.running_var.shape, generator=gen) + .5
