# Copyright (c) mmema contributors. All rights reserved.
"""Parameters and FLOPs of a config's model, with and without EMA."""
import copy
import functools
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.analysis import FlopAnalyzer, parameter_count
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from torch.nn.modules.batchnorm import _BatchNorm

from mmema.models.plugins import EMA
from .attention_config import attention_of, strip_ema


@dataclass(frozen=True)
class Complexity:
    """What one build of a model costs.

    Args:
        name (str): Row label, e.g. ``'with EMA'``.
        attention (str): The model's attention
            (:func:`~.attention_config.attention_of`).
        params (int): Parameters of the whole model.
        params_bn_folded (int): Parameters once the BN of every conv block
            is folded into its conv (:func:`bn_folded_params`).
        flops (int): FLOPs (multiply-adds, as mmengine counts them) of one
            forward pass at the measured shape.
        ema_params (int): Parameters inside EMA layers.
        ema_flops (int): FLOPs inside EMA layers.
        flops_by_operator (dict[str, int]): The model's FLOPs by mmengine's
            operator kind (``'conv'``, ``'linear'``, ``'batch_norm'``, ...).
    """

    name: str
    attention: str
    params: int
    params_bn_folded: int
    flops: int
    ema_params: int
    ema_flops: int
    flops_by_operator: Dict[str, int]


@dataclass(frozen=True)
class FlopCounts:
    """FLOPs of one forward pass, as mmengine counts them (one multiply-add
    is one FLOP).

    Args:
        by_module (dict[str, int]): By module name; ``''`` is the model.
        by_operator (dict[str, int]): The model's, by operator kind.
    """

    by_module: Dict[str, int]
    by_operator: Dict[str, int]


def bn_folded_params(model: nn.Module) -> int:
    """Parameters of ``model`` once each conv block's BN is folded away.

    What YOLOv5's ``model.fuse()`` does before its validation and detection
    scripts print a model summary: the BN of every conv + BN (+ act) block
    (mmcv's ``ConvModule``, YOLOv5's ``Conv``) becomes the conv's bias, so
    the block loses the BN's weight and bias and gains a bias if the conv
    had none. Other norms (EMA's GroupNorm, a plugin's own BN) stay.

    Args:
        model (nn.Module): The model.

    Returns:
        int: The parameter count after folding.
    """
    total = sum(p.numel() for p in model.parameters())
    for module in model.modules():
        if (isinstance(module, ConvModule) and module.with_norm
                and isinstance(module.norm, _BatchNorm)):
            total -= sum(p.numel() for p in module.norm.parameters())
            if module.conv.bias is None:
                total += module.conv.out_channels
    return total


def _dummy_data_samples(model: nn.Module, shape: Tuple[int,
                                                       int]) -> Optional[list]:
    """Image meta for a detector's forward; None for other models."""
    from mmdet.models.detectors import BaseDetector
    from mmdet.structures import DetDataSample
    if not isinstance(model, BaseDetector):
        return None
    sample = DetDataSample(
        metainfo=dict(
            img_shape=shape,
            ori_shape=shape,
            pad_shape=shape,
            batch_input_shape=shape,
            scale_factor=(1.0, 1.0)))
    return [sample]


def build_counting_model(model_cfg: dict,
                         scope: Optional[str]) -> nn.Module:
    """Build a model to count, in eval mode, without weights.

    A two-stage detector's RoI head is counted at its full proposal budget
    (``test_cfg.rpn.max_per_img``, usually 1000): the RPN's NMS is switched
    off, so the number of proposals does not depend on the untrained
    weights and two builds compare.

    Args:
        model_cfg (dict): The ``model`` field of a config.
        scope (str, optional): Registry scope, the config's
            ``default_scope``.

    Returns:
        nn.Module: The model.
    """
    model_cfg = copy.deepcopy(model_cfg)
    rpn_test_cfg = (model_cfg.get('test_cfg') or {}).get('rpn')
    if rpn_test_cfg is not None and 'nms' in rpn_test_cfg:
        rpn_test_cfg['nms']['iou_threshold'] = 1.0  # keeps every proposal
    with DefaultScope.overwrite_default_scope(scope):
        return MODELS.build(model_cfg).eval()


def count_flops(model: nn.Module, shape: Tuple[int, int]) -> FlopCounts:
    """FLOPs of one forward pass, by module and by operator.

    The model runs once in ``'tensor'`` mode (no post-processing) on a
    seeded random image of shape (1, 3, H, W). Detectors get image meta of
    exactly that shape: the caller passes the padded input
    (:func:`~.input_shape.default_input_shape` rounds up to the data
    preprocessor's ``pad_size_divisor``), so a detector is counted on the
    tensor its preprocessor would hand it.

    Args:
        model (nn.Module): From :func:`build_counting_model`.
        shape (tuple[int, int]): Input (H, W).

    Returns:
        FlopCounts: The counts.
    """
    inputs = torch.randn(
        1, 3, *shape, generator=torch.Generator().manual_seed(0))
    # Tracing takes tensors only: bind the image meta like mmdet's tool.
    forward = functools.partial(
        model.forward, data_samples=_dummy_data_samples(model, shape))
    model.forward = forward
    try:
        with torch.no_grad():
            analyzer = FlopAnalyzer(model, (inputs, ))
            analyzer.unsupported_ops_warnings(False)
            analyzer.uncalled_modules_warnings(False)
            analyzer.tracer_warnings('none')
            return FlopCounts(
                dict(analyzer.by_module()), dict(analyzer.by_operator()))
    finally:
        del model.forward


def measure_complexity(name: str, model_cfg: dict, scope: Optional[str],
                       shape: Tuple[int, int]) -> Complexity:
    """Build a model and count its parameters and FLOPs.

    Args:
        name (str): Row label.
        model_cfg (dict): The ``model`` field of a config.
        scope (str, optional): Registry scope, the config's
            ``default_scope``.
        shape (tuple[int, int]): Input (H, W), padded as the model's data
            preprocessor pads (see :func:`count_flops`).

    Returns:
        Complexity: The counts.
    """
    model = build_counting_model(model_cfg, scope)
    flops = count_flops(model, shape)
    params = parameter_count(model)
    ema_names = [n for n, m in model.named_modules() if isinstance(m, EMA)]
    return Complexity(
        name=name,
        attention=attention_of(model_cfg, scope),
        params=params[''],
        params_bn_folded=bn_folded_params(model),
        flops=flops.by_module[''],
        ema_params=sum(params[n] for n in ema_names),
        ema_flops=sum(flops.by_module[n] for n in ema_names),
        flops_by_operator=flops.by_operator)


def compare_with_and_without_ema(cfg: Config,
                                 shape: Tuple[int, int]) -> List[Complexity]:
    """Measure ``cfg.model`` and, if it has EMA, the same without EMA.

    Args:
        cfg (Config): A detection or classification config.
        shape (tuple[int, int]): Input (H, W).

    Returns:
        list[Complexity]: ``with EMA`` then ``without EMA``; a single
        ``as configured`` row if the config has no EMA.
    """
    scope = cfg.get('default_scope')
    baseline_cfg, removed = strip_ema(cfg.model)
    if not removed:
        return [measure_complexity('as configured', cfg.model, scope, shape)]
    return [
        measure_complexity('with EMA', cfg.model, scope, shape),
        measure_complexity('without EMA', baseline_cfg, scope, shape),
    ]
