# Copyright (c) mmema contributors. All rights reserved.
"""tools/deployment/pytorch2onnx.py end to end: a narrowed CIFAR ResNet-50
EMA classifier and the YOLOv5s-EMA demo detector, with random weights saved
as a checkpoint, exported, checked in onnxruntime and timed."""
import re
import sys

import onnx
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope

from mmema.optional_deps import mmyolo_available
from tool_runs import REPO, run

TOOL = 'tools/deployment/pytorch2onnx.py'
CLASSIFIER = ('configs/ema_resnet50_cifar100.py', [
    'model.backbone.stem_channels=8', 'model.backbone.base_channels=8',
    'model.head.in_channels=256'
])
YOLO = ('configs/demo/yolov5_s-v61-ema_demo.py', [])


def save_random_checkpoint(config: str, options: list, path) -> None:
    cfg = Config.fromfile(REPO / config)
    cfg.merge_from_dict({
        k: eval(v)
        for k, v in (o.split('=', 1) for o in options)
    })  # literals above
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    torch.save({'state_dict': model.state_dict()}, path)


def export(config: str, options: list, tmp_path, *extra: str):
    checkpoint = tmp_path / 'model.pth'
    save_random_checkpoint(config, options, checkpoint)
    args = [sys.executable, TOOL, config, str(checkpoint), '--repeats', '2']
    if options:
        args += ['--cfg-options', *options]
    return run(args + list(extra), tmp_path), tmp_path / 'model.onnx'


@pytest.mark.parametrize(
    'case', [
        CLASSIFIER,
        pytest.param(
            YOLO,
            marks=pytest.mark.skipif(
                not mmyolo_available(), reason='needs mmyolo'))
    ],
    ids=['classifier', 'yolov5s'])
def test_exports_checks_and_times_at_the_config_size(case, tmp_path):
    proc, onnx_file = export(*case, tmp_path)
    assert proc.returncode == 0, proc.output[-3000:]
    size = 32 if case is CLASSIFIER else 128  # the configs' test pipelines
    match = re.search(
        rf'input \(1, 3, {size}, {size}\): max \|PyTorch - onnxruntime\| '
        r'= (\S+)', proc.stdout)
    assert match, proc.stdout
    assert float(match.group(1)) <= 1e-4
    assert 'InstanceNormalization' in proc.stdout
    assert re.search(r'PyTorch \d+\.\d ms, onnxruntime \d+\.\d ms',
                     proc.stdout)
    graph = onnx.load(str(onnx_file))
    assert [
        d.dim_param for d in graph.graph.input[0].type.tensor_type.shape.dim
    ] == ['batch', '', 'height', 'width']


def test_dynamo_below_opset_17_is_refused_before_exporting(tmp_path):
    proc, onnx_file = export(*CLASSIFIER, tmp_path, '--exporter', 'dynamo',
                             '--opset', '13')
    assert proc.returncode == 2
    assert '--exporter torchscript' in proc.stderr
    assert not onnx_file.exists()


def test_a_checkpoint_of_another_model_is_named(tmp_path):
    checkpoint = tmp_path / 'other.pth'
    save_random_checkpoint(CLASSIFIER[0], [], checkpoint)  # full width
    proc = run([
        sys.executable, TOOL, CLASSIFIER[0],
        str(checkpoint), '--cfg-options', *CLASSIFIER[1]
    ], tmp_path)
    assert proc.returncode != 0
    assert 'do not fit the model of this config' in proc.stderr
    assert not (tmp_path / 'other.onnx').exists()
