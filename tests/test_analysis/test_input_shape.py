# Copyright (c) mmema contributors. All rights reserved.
"""The input size read from a config's pipelines."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmema.analysis.input_shape import default_input_shape

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.parametrize(
    'path, shape',
    [
        # Resize(scale=(1333, 800)), padded to a multiple of 32.
        ('configs/ema_faster-rcnn_r50.py', (800, 1344)),
        # No transform at test time: CIFAR's RandomCrop(crop_size=32).
        ('configs/ema_resnet50_cifar100.py', (32, 32)),
        # ResizeEdge(scale=256) then CenterCrop(crop_size=224).
        ('configs/classification/resnet50-ema_8xb32_in1k.py', (224, 224)),
    ])
def test_shape_from_the_pipelines(path, shape):
    assert default_input_shape(Config.fromfile(osp.join(ROOT, path))) == shape


def test_shape_is_required_when_the_pipelines_have_no_size():
    cfg = Config.fromfile(osp.join(ROOT, 'configs/ema_resnet50_cifar100.py'))
    cfg.train_dataloader.dataset.pipeline = [dict(type='PackInputs')]
    with pytest.raises(ValueError, match='--shape'):
        default_input_shape(cfg)
