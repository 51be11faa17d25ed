# Copyright (c) mmema contributors. All rights reserved.
"""EMA: Efficient Multi-Scale Attention (Ouyang et al., ICASSP 2023).

The module holds EMA's parameters and picks a path for each input
(:mod:`.ema_paths.dispatch`); every path computes the published function
of :func:`.ema_paths.ema_reference`, and the tests hold each to it:

* CPU tensors: the compiled kernels of ``mmema/csrc`` under one autograd
  function (:mod:`.ema_paths.cpu`);
* CUDA tensors with ``MMEMA_EMA_TRITON=1``: Triton kernels
  (:mod:`.ema_paths.triton`);
* while a tracer, exporter or compiler records the graph, on other devices
  and without the compiled kernels: a composite of standard ops on EMA's
  exact identities (:mod:`.ema_paths.composite`).
"""
from typing import List, Optional, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmengine.registry import MODELS

from .arg_checks import check_feature_map, check_int
from .ema_paths import EMAParams, ema_logits_composite, fused_ema


def _divisors(n: int) -> List[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def check_ema_args(in_channels: int, factor: int) -> None:
    """Validate EMA's arguments, raising an error that names the fix.

    Args:
        in_channels (int): Channels of the input feature map.
        factor (int): Number of channel groups.
    """
    check_int('EMA', 'in_channels', in_channels)
    check_int('EMA', 'factor', factor, minimum=1)
    if in_channels < factor:
        raise ValueError(
            f'EMA: in_channels ({in_channels}) must be >= factor ({factor}): '
            'each of the `factor` groups needs at least one channel. Use a '
            f'factor that divides {in_channels}: '
            f'{_divisors(in_channels) if in_channels > 0 else "none"}.')
    if in_channels % factor != 0:
        raise ValueError(
            f'EMA: in_channels ({in_channels}) is not divisible by factor '
            f'({factor}). Factors that divide {in_channels}: '
            f'{_divisors(in_channels)}.')


@MODELS.register_module(name=['EMA', 'EfficientMultiScaleAttention'])
class EMA(BaseModule):
    """Efficient Multi-Scale Attention module.

    Paper: `Efficient Multi-Scale Attention Module with Cross-Spatial
    Learning <https://arxiv.org/abs/2305.13563>`_ (ICASSP 2023).

    The input's channels are split into ``factor`` groups that share the
    module's parameters. Each group is re-weighted by a spatial map built
    from a 1x1 branch (directional pooling along H and W) and a 3x3 branch,
    combined by cross-spatial learning. The output has the input's shape and
    no residual connection.

    Parameter names and ``state_dict`` keys equal the official module's
    (``conv1x1.*``, ``conv3x3.*``, ``gn.*``), so its checkpoints load with
    ``strict=True``.

    Args:
        in_channels (int): Channels of the input feature map. Must be
            divisible by ``factor``.
        factor (int): Number of channel groups (``G`` in the paper).
            Defaults to 32.
        init_cfg (dict or list[dict], optional): Initialization config.
            Defaults to None (PyTorch's default initialization, as in the
            official code).
    """

    _abbr_ = 'ema_attn'

    def __init__(self,
                 in_channels: int,
                 factor: int = 32,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        check_ema_args(in_channels, factor)
        self.in_channels = in_channels
        self.factor = factor
        group_channels = in_channels // factor
        self.conv1x1 = nn.Conv2d(group_channels, group_channels, 1)
        self.conv3x3 = nn.Conv2d(
            group_channels, group_channels, 3, padding=1)
        self.gn = nn.GroupNorm(group_channels, group_channels)
        # The spatial attention map passes through this module, so forward
        # hooks can capture it (B * factor, 1, H, W) without touching forward.
        self.attn_gate = nn.Sigmoid()

    def extra_repr(self) -> str:
        return f'in_channels={self.in_channels}, factor={self.factor}'

    def ema_params(self) -> EMAParams:
        """The parameters in the order the EMA implementations take them."""
        return EMAParams(self.conv1x1.weight, self.conv1x1.bias,
                         self.conv3x3.weight, self.conv3x3.bias,
                         self.gn.weight, self.gn.bias, self.gn.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Re-weight ``x`` by its cross-spatial attention.

        CPU and CUDA tensors take a fused implementation with a hand-written
        backward; tracers and exporters see a composite of standard ops. All
        compute the published function (see the module docstring). Under
        ``torch.compile`` EMA runs between the compiled graphs, on its fused
        path: Inductor lays the composite out wrongly under dynamic shapes
        inside a backbone whose convolutions it stores channels-last (a
        stride-order error, and past it corrupt memory), and the fused
        kernels are faster than its code for EMA.

        Args:
            x (Tensor): Input of shape (B, C, H, W).

        Returns:
            Tensor: Output of shape (B, C, H, W), in ``x``'s dtype.
        """
        check_feature_map('EMA', x, self.in_channels)
        if torch.compiler.is_dynamo_compiling():
            return _run_outside_compiled_graph(self, x)
        return self._forward(x)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        params = self.ema_params()
        # The fused paths apply the sigmoid inside; where a hook watches
        # attn_gate, it runs on the small logits, so that the hook sees the
        # map.
        observed = has_forward_hooks(self.attn_gate)
        fused = fused_ema(x, params, self.factor, keep_logits=observed)
        if fused is not None:
            out, logits = fused
            if observed:
                self.attn_gate(logits)
            return out
        # Groups as a dimension of their own; the channels per group are a
        # constant of the module, so exported graphs compute only the batch
        # and plane size from x.
        c, (h, w) = self.in_channels // self.factor, x.shape[2:]
        g = x.reshape(-1, self.factor, c, h, w)  # (B, G, c, H, W)
        attn = self.attn_gate(ema_logits_composite(g.flatten(0, 1),
                                                   params))  # (B*G, 1, H, W)
        return (g * attn.view(-1, self.factor, 1, h, w)).flatten(1, 2)


def has_forward_hooks(module: nn.Module) -> bool:
    """Whether calling ``module`` runs a forward hook or pre-hook, its own
    or a global one (``nn.modules.module.register_module_forward_hook``)."""
    return bool(module._forward_hooks or module._forward_pre_hooks
                or nn.modules.module._global_forward_hooks
                or nn.modules.module._global_forward_pre_hooks)


@torch.compiler.disable
def _run_outside_compiled_graph(module: EMA, x: torch.Tensor) -> torch.Tensor:
    """``module._forward(x)`` as a graph break of ``torch.compile``."""
    return module._forward(x)
