# Copyright (c) mmema contributors. All rights reserved.
"""ONNX export of EMA and of EMA models, checked in onnxruntime.

Each exporter and opset writes a graph with no custom op, no Col2Im, no
pooling and no GroupNorm, which onnxruntime runs at two input sizes (the
batch, height and width are dynamic) within 1e-4 of PyTorch. The dynamo
exporter writes opset 18 and, through ONNX's version converter, 17; below
that the converter lacks adapters and the export says so.

CI exports every model with the TorchScript exporter and YOLOv5s with the
dynamo exporter too (a dynamo export of ResNet-50 takes about 90 s here);
``MMEMA_FULL_EXPORT_MATRIX=1`` adds the dynamo exports of every model.
"""
import os
import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope

import mmema  # noqa: F401  (registers the models)
from mmema.deployment import (TensorMode, export_onnx, flat_outputs,
                              max_abs_difference, onnx_op_types)
from mmema.models.plugins import EMA

CONFIGS = Path(__file__).parents[2] / 'configs'
DOCS = Path(__file__).parents[2] / 'docs' / 'deployment.md'
FULL_MATRIX = os.environ.get('MMEMA_FULL_EXPORT_MATRIX') == '1'
OPSETS = (11, 13, 17, 18)
#: What the exported graphs must not hold.
FORBIDDEN = {'Col2Im', 'GroupNormalization', 'AveragePool', 'Pad'}
#: Op types of every graph exported in this module, for the docs check.
SEEN_OPS = set()


def randomize_ema_(model: torch.nn.Module) -> torch.nn.Module:
    """Random EMA parameters, so that EMA changes what the model outputs
    (its defaults, gn.bias = 0, make x11 uniform)."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, EMA):
                for p in module.parameters():
                    p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return model


def build(config: str) -> torch.nn.Module:
    cfg = Config.fromfile(CONFIGS / config)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    return TensorMode(randomize_ema_(model).eval()).eval()


def resnet50_classifier() -> torch.nn.Module:
    """mmpretrain's ImageClassifier, PluginResNet-50, EMA after conv3."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MODELS.build(
            dict(
                type='ImageClassifier',
                backbone=dict(
                    type='PluginResNet',
                    depth=50,
                    plugins=[
                        dict(
                            cfg=dict(type='EMA', factor=32),
                            stages=(True, ) * 4,
                            position='after_conv3')
                    ]),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(
                    type='LinearClsHead', num_classes=10, in_channels=2048)))
    return TensorMode(randomize_ema_(model).eval()).eval()


CLASSIFIER_SIZES = [(1, 3, 64, 64), (2, 3, 96, 64)]
DETECTOR_SIZES = [(1, 3, 128, 128), (2, 3, 96, 160)]
MODELS_TO_EXPORT = {
    'resnet50-ema': (resnet50_classifier, CLASSIFIER_SIZES),
    'mobilenet-v2-ema':
    (lambda: build('classification/mobilenet-v2-ema_8xb32_in1k.py'),
     CLASSIFIER_SIZES),
    'retinanet-ema':
    (lambda: build('detection/retinanet_r50-ema_fpn_1x_coco.py'),
     DETECTOR_SIZES),
    'yolox-s-ema':
    (lambda: build('detection/yolox_s-ema_8xb8-300e_coco.py'), DETECTOR_SIZES),
    'yolov5s-ema':
    (lambda: build('detection/yolov5_s-v61-ema_syncbn_fast_8xb16-300e_coco.py'
                   ), DETECTOR_SIZES),
}


def model_cases():
    for name in MODELS_TO_EXPORT:
        for opset in OPSETS:
            yield name, 'torchscript', opset
        if FULL_MATRIX or name == 'yolov5s-ema':
            for opset in (17, 18):
                yield name, 'dynamo', opset


def assert_exports_and_matches(model, sizes, exporter, opset, path):
    exported = export_onnx(model, torch.randn(sizes[0]), str(path), exporter,
                           opset)
    ops = set(onnx_op_types(exported))
    SEEN_OPS.update(ops)
    assert not ops & FORBIDDEN, ops & FORBIDDEN
    assert not any('::' in op for op in ops), ops  # no custom domain
    gen = torch.Generator().manual_seed(1)
    inputs = [torch.randn(s, generator=gen) for s in sizes]
    with torch.no_grad():
        scale = max(
            float(t.abs().max()) for x in inputs
            for t in flat_outputs(model(x)))
    assert max_abs_difference(model, str(path),
                              inputs) <= 1e-4 * max(1.0, scale)
    return ops


@pytest.mark.parametrize('exporter', ['torchscript', 'dynamo'])
@pytest.mark.parametrize('opset', OPSETS)
def test_ema_layer_exports_at_every_opset(exporter, opset, tmp_path):
    model = randomize_ema_(EMA(64, factor=8)).eval()
    sizes = [(2, 64, 9, 12), (3, 64, 16, 5)]
    if exporter == 'dynamo' and opset < 17:
        with pytest.raises(ValueError, match="exporter='torchscript'"):
            export_onnx(model, torch.randn(sizes[0]),
                        str(tmp_path / 'ema.onnx'), exporter, opset)
        return
    ops = assert_exports_and_matches(model, sizes, exporter, opset,
                                     tmp_path / 'ema.onnx')
    assert 'InstanceNormalization' in ops  # GroupNorm, one channel a group


@pytest.mark.parametrize('name,exporter,opset', list(model_cases()))
def test_ema_models_export_and_match(name, exporter, opset, tmp_path):
    build_model, sizes = MODELS_TO_EXPORT[name]
    assert_exports_and_matches(build_model(), sizes, exporter, opset,
                               tmp_path / f'{name}.onnx')


def test_deployment_page_lists_every_operator_of_the_graphs(tmp_path):
    """docs/deployment.md names every op type the graphs above hold (run
    alone, the test exports one EMA layer to have some)."""
    if not SEEN_OPS:
        assert_exports_and_matches(
            randomize_ema_(EMA(64, factor=8)).eval(), [(1, 64, 8, 8)],
            'torchscript', 17, tmp_path / 'ema.onnx')
    listed = set(re.findall(r'^\| `(\w+)` \|', DOCS.read_text(), re.M))
    assert SEEN_OPS <= listed, sorted(SEEN_OPS - listed)
