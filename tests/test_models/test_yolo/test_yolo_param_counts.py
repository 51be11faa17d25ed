# Copyright (c) mmema contributors. All rights reserved.
"""The YOLO configs' parameters against the EMA paper's and its code's.

The official repository's own code (``models/yolo.py`` of the commits that
hold ``yolov5s_EMA.yaml`` and ``yolov5xP2EMA.yaml``), run outside this
project, counts ``yolov5s.yaml`` at 7,235,389 parameters (YOLOv5's model
summary), ``yolov5s_EMA.yaml`` at 7,238,685, ``yolov5xP2.yaml`` with 10
classes at 90,963,540 and ``yolov5xP2EMA.yaml`` at 91,179,620 (the paper's
91.18M). EMA's own parameters are counted from its formula.
"""
from pathlib import Path

import pytest
from mmdet.models.layers import CSPLayer
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmyolo.registry import MODELS

CONFIGS = Path(__file__).parents[3] / 'configs' / 'detection'


def ema_params(channels: int, factor: int = 32) -> int:
    c = channels // factor
    return c * c + c + 9 * c * c + c + 2 * c


def count(config: str, baseline_key: str = '') -> int:
    cfg = Config.fromfile(CONFIGS / config)
    if baseline_key:
        assert f'--cfg-options {baseline_key}=None' in (CONFIGS /
                                                        config).read_text()
        cfg.merge_from_dict({baseline_key: None})
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model)
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize('config,ema_channels,baseline', [
    ('yolov5_s-v61-ema_syncbn_fast_8xb16-300e_coco.py', (256, 512),
     7_235_389),
    ('yolov8_s-ema_syncbn_fast_8xb16-500e_coco.py', (256, 512), None),
    ('yolov8_n-ema_syncbn_fast_8xb16-500e_coco.py', (128, 256), None),
])
def test_backbone_ema_configs_are_baseline_plus_two_ema(
        config, ema_channels, baseline):
    without = count(config, 'model.backbone.plugins')
    assert count(config) == without + sum(map(ema_params, ema_channels))
    if baseline is not None:
        assert without == baseline


def test_yolov5s_ema_is_the_official_yolov5s_ema_yaml():
    assert count('yolov5_s-v61-ema_syncbn_fast_8xb16-300e_coco.py'
                 ) == 7_238_685


def test_p2_baseline_is_the_official_yaml_and_the_papers_90_96m():
    config = 'yolov5_x-p2-ema_syncbn_fast_8xb16-300e_visdrone.py'
    without = count(config, 'model.neck.plugins')
    assert without == 90_963_540
    assert round(without / 1e6, 2) == 90.96
    # EMA after five neck C3 layers: 640, 320, 320, 320, 640 channels.
    with_ema = count(config)
    assert with_ema == without + sum(
        map(ema_params, (640, 320, 320, 320, 640))) == 90_974_820


def test_the_papers_91_18m_counts_the_yaml_wiring_of_p4():
    """yolov5xP2EMA.yaml inserts EMA layers without shifting the Concat
    indices after them: P4's bottom-up C3 concatenates the 640-channel EMA
    output (layer 14) instead of the 320-channel lateral conv, so its two
    input convs take 960 channels, not 640. That, and nothing else, is the
    difference between this config and the paper's count."""
    wide = CSPLayer(960, 640, num_blocks=4, add_identity=False)
    ours = CSPLayer(640, 640, num_blocks=4, add_identity=False)
    extra = sum(p.numel() for p in wide.parameters()) - sum(
        p.numel() for p in ours.parameters())
    assert extra == 2 * 320 * 320  # main_conv and short_conv, 1x1, no bias
    with_ema = count('yolov5_x-p2-ema_syncbn_fast_8xb16-300e_visdrone.py')
    assert with_ema + extra == 91_179_620
    assert round((with_ema + extra) / 1e6, 2) == 91.18
