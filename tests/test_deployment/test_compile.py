# Copyright (c) mmema contributors. All rights reserved.
"""torch.compile of EMA models at changing input sizes.

Inside a backbone, Inductor mis-lays out EMA's composite under dynamic
shapes (convolution maps stored channels-last): EMA therefore runs between
the compiled graphs, on its fused path. Compiled and eager runs agree, for
a backbone in training (forward and backward) and a detector at the
multi-scale and padded sizes detection feeds it.
"""
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope

import mmema  # noqa: F401  (registers the models)
from mmema.models.backbones import PluginResNet

CONFIGS = Path(__file__).parents[2] / 'configs'


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return float((actual - expected).abs().max() / expected.abs().max())


def test_ema_backbone_compiles_once_for_new_sizes_in_training():
    torch.manual_seed(0)
    backbone = PluginResNet(
        depth=18,
        plugins=[
            dict(
                cfg=dict(type='EMA', factor=8),
                stages=(True, ) * 4,
                position='after_conv2')
        ])
    backbone.train()
    compiled = torch.compile(backbone)
    for shape in [(2, 3, 64, 64), (3, 3, 48, 80)]:
        x = torch.randn(shape)
        eager_x, compiled_x = (x.clone().requires_grad_() for _ in range(2))
        eager_out = backbone(eager_x)
        grad_out = [torch.randn_like(o) for o in eager_out]
        eager_grad, = torch.autograd.grad(eager_out, eager_x, grad_out)
        compiled_out = compiled(compiled_x)
        compiled_grad, = torch.autograd.grad(compiled_out, compiled_x,
                                             grad_out)
        for ours, theirs in zip(compiled_out, eager_out):
            assert relative_error(ours, theirs) < 1e-4, shape
        assert relative_error(compiled_grad, eager_grad) < 1e-4, shape


def test_ema_detector_compiles_for_multi_scale_and_padded_batches():
    cfg = Config.fromfile(CONFIGS / 'detection' /
                          'yolox_s-ema_8xb8-300e_coco.py')
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        detector = MODELS.build(cfg.model)
    detector.eval()
    compiled = torch.compile(detector)
    with torch.no_grad():
        for shape in [(1, 3, 128, 128), (2, 3, 96, 160)]:
            x = torch.randn(shape)
            eager = [t for level in detector(x, mode='tensor') for t in level]
            ours = [t for level in compiled(x, mode='tensor') for t in level]
            for a, b in zip(ours, eager):
                assert relative_error(a, b) < 1e-4, shape
