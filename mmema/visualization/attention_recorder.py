# Copyright (c) mmema contributors. All rights reserved.
"""Record EMA's spatial attention maps with forward hooks."""
from collections import defaultdict
from typing import Callable, Dict, List

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.hooks import RemovableHandle

from mmema.models.plugins import EMA


def stage_name(layer_name: str) -> str:
    """The stage an EMA layer belongs to, from its module name.

    The stage is the name up to the first block index:
    ``'backbone.layer2.3.ema_attn'`` is in ``'backbone.layer2'``. A name
    without an index belongs to its parent module.

    Args:
        layer_name (str): Qualified name of the EMA module in the model.

    Returns:
        str: The stage's qualified name.
    """
    parts = layer_name.split('.')
    for i, part in enumerate(parts[1:], start=1):
        if part.isdigit():
            return '.'.join(parts[:i])
    return '.'.join(parts[:-1]) or layer_name


class EMAAttentionRecorder:
    """Capture every EMA layer's spatial attention during a forward pass.

    A forward hook on each EMA's ``attn_gate`` (the sigmoid of the
    cross-spatial weights) stores its output, (B * factor, 1, H, W), averaged
    over the ``factor`` groups into (B, H, W). The model's forward is not
    changed. Use as a context manager; hooks are removed on exit.

    Example:
        >>> with EMAAttentionRecorder(model) as recorder:
        ...     model(inputs)
        >>> maps = recorder.stage_maps()  # {stage: (B, H, W)}

    Args:
        model (nn.Module): A model with at least one EMA layer.
    """

    def __init__(self, model: nn.Module) -> None:
        self.layers: Dict[str, EMA] = {
            name: module
            for name, module in model.named_modules()
            if isinstance(module, EMA)
        }
        if not self.layers:
            raise ValueError(
                f'{type(model).__name__} has no EMA layer to record. Add EMA '
                "by config, e.g. backbone plugins=[dict(cfg=dict(type='EMA', "
                "factor=32), stages=(False, True, True, True), "
                "position='after_conv3')].")
        self.layer_maps: Dict[str, torch.Tensor] = {}
        self._handles: List[RemovableHandle] = []

    def _make_hook(self, name: str, factor: int) -> Callable:

        def hook(module: nn.Module, inputs: tuple,
                 output: torch.Tensor) -> None:
            _, _, h, w = output.shape  # (B * factor, 1, H, W)
            self.layer_maps[name] = output.detach().reshape(-1,
                                                            factor, h, w).mean(
                                                                1)  # (B, H, W)

        return hook

    def __enter__(self) -> 'EMAAttentionRecorder':
        self.layer_maps.clear()
        for name, layer in self.layers.items():
            self._handles.append(
                layer.attn_gate.register_forward_hook(
                    self._make_hook(name, layer.factor)))
        return self

    def __exit__(self, *exc_info: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def stage_maps(self) -> Dict[str, torch.Tensor]:
        """Attention per stage: the mean of its layers' maps.

        Maps of one stage are resized (bilinear) to the largest among them
        before averaging.

        Returns:
            dict[str, Tensor]: Stage name to a map of shape (B, H, W), in
            the order the stages first ran.

        Raises:
            RuntimeError: If an EMA layer did not run its ``attn_gate``.
        """
        missing = [name for name in self.layers if name not in self.layer_maps]
        if missing:
            raise RuntimeError(
                f'EMA layers {missing} did not pass their attention through '
                '`attn_gate` in the last forward, so no map was recorded. '
                'Run a forward pass inside the `with` block, on a model whose '
                'EMA implementation calls `attn_gate`.')
        grouped: Dict[str, List[torch.Tensor]] = defaultdict(list)
        for name, attn in self.layer_maps.items():
            grouped[stage_name(name)].append(attn)
        return {stage: _mean_of_maps(maps) for stage, maps in grouped.items()}


def _mean_of_maps(maps: List[torch.Tensor]) -> torch.Tensor:
    """Mean of (B, H_i, W_i) maps, resized to the largest (B, H, W)."""
    size = max((m.shape[-2:] for m in maps), key=lambda s: s[0] * s[1])
    resized = [
        m if m.shape[-2:] == size else F.interpolate(
            m[:,
              None], size=tuple(size), mode='bilinear', align_corners=False)[:,
                                                                             0]
        for m in maps
    ]
    return torch.stack(resized).mean(0)
