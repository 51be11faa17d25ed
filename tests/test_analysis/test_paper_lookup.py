# Copyright (c) mmema contributors. All rights reserved.
"""The paper table matched to a config by its data set and backbone."""
import os.path as osp

import pytest
from mmengine.config import Config

from mmema.analysis.paper_lookup import paper_table_for

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.parametrize('path, table', [
    ('configs/ema_faster-rcnn_r50.py', 'coco_yolov5s'),
    ('configs/ema_resnet50_cifar100.py', 'cifar100_resnet50'),
    ('configs/classification/resnet101-ema_1xb128_cifar100.py',
     'cifar100_resnet101'),
    ('configs/classification/mobilenet-v2-ema_8xb32_in1k.py',
     'imagenet_mobilenetv2'),
    ('configs/detection/faster-rcnn_r50-ema_fpn_1x_visdrone.py',
     'visdrone_yolov5x_p2'),
])
def test_matching_table(path, table):
    assert paper_table_for(Config.fromfile(osp.join(ROOT, path))).key == table


def test_config_without_a_table_names_the_choices():
    cfg = Config.fromfile(
        osp.join(ROOT,
                 'configs/classification/resnet18-ema_1xb128_cifar100.py'))
    with pytest.raises(KeyError, match='cifar100_resnet50'):
        paper_table_for(cfg)
