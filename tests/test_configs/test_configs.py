# Copyright (c) mmema contributors. All rights reserved.
"""Every config under configs/ loads and builds its model in its scope."""
from pathlib import Path

import pytest
import torch.nn as nn
from mmengine.config import Config
from mmengine.hub import get_config
from mmengine.registry import MODELS, DefaultScope

from mmema.models.backbones import PluginCSPDarknet
from mmema.models.plugins import EMA

CONFIG_DIR = Path(__file__).resolve().parents[2] / 'configs'
CONFIGS = sorted(p.relative_to(CONFIG_DIR).as_posix()
                 for p in CONFIG_DIR.rglob('*.py'))


def build_model(cfg: Config) -> nn.Module:
    """Build ``cfg.model`` in the config's default scope (no weights)."""
    with DefaultScope.overwrite_default_scope(
            cfg.get('default_scope', 'mmengine')):
        return MODELS.build(cfg.model)


def test_configs_found():
    assert 'ema_faster-rcnn_r50.py' in CONFIGS


@pytest.mark.parametrize('name', CONFIGS)
def test_config_loads_and_builds(name):
    cfg = Config.fromfile(str(CONFIG_DIR / name))
    assert isinstance(build_model(cfg), nn.Module)


# Detection configs: where EMA goes, with its in_channels, and the baseline
# one override away.
DETECTION = {
    'ema_faster-rcnn_r50.py': {
        'layer2': 512,
        'layer3': 1024,
        'layer4': 2048
    },
    'detection/retinanet_r50-ema_fpn_1x_coco.py': {
        'layer2': 512,
        'layer3': 1024,
        'layer4': 2048
    },
    'detection/faster-rcnn_r50-ema_fpn_1x_visdrone.py': {
        'layer2': 512,
        'layer3': 1024,
        'layer4': 2048
    },
    'detection/yolox_s-ema_8xb8-300e_coco.py': {
        'stage3': 256,
        'stage4': 512
    },
    'detection/yolov5_s-v61-ema_syncbn_fast_8xb16-300e_coco.py': {
        'stage3': 256,
        'stage4': 512
    },
    'detection/yolov8_s-ema_syncbn_fast_8xb16-500e_coco.py': {
        'stage3': 256,
        'stage4': 512
    },
    'detection/yolov8_n-ema_syncbn_fast_8xb16-500e_coco.py': {
        'stage3': 128,
        'stage4': 256
    },
}


@pytest.mark.parametrize('name', sorted(DETECTION))
def test_detection_config_ema_placement_and_baseline(name):
    cfg = Config.fromfile(str(CONFIG_DIR / name))
    assert cfg.custom_imports == dict(
        imports=['mmema'], allow_failed_imports=False)
    backbone = build_model(cfg).backbone
    stages = {}
    for module_name, module in backbone.named_modules():
        if isinstance(module, EMA):
            stage = module_name.split('.')[0]
            stages.setdefault(stage, set()).add(module.in_channels)
            assert module.factor == 32
    assert stages == {s: {c} for s, c in DETECTION[name].items()}
    if 'yolov' in name:
        # Before SPPF: children of the stages' CSP layers, not of the stages.
        assert {n for n, m in backbone.named_modules() if isinstance(m, EMA)
                } == {'stage3.1.ema_attn', 'stage4.1.ema_attn'}
    if 'r50' in name:
        # Every bottleneck of stages 2-4: 4 + 6 + 3 blocks.
        assert sum(isinstance(m, EMA) for m in backbone.modules()) == 13

    cfg.merge_from_dict({'model.backbone.plugins': None})
    baseline = build_model(cfg).backbone
    assert not any(isinstance(m, EMA) for m in baseline.modules())


def test_yolox_baseline_matches_upstream_keys():
    cfg = Config.fromfile(
        str(CONFIG_DIR / 'detection/yolox_s-ema_8xb8-300e_coco.py'))
    cfg.merge_from_dict({'model.backbone.plugins': None})
    upstream = get_config('mmdet::yolox/yolox_s_8xb8-300e_coco.py')
    ours, theirs = build_model(cfg), build_model(upstream)
    assert isinstance(ours.backbone, PluginCSPDarknet)
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize('attention', ['CA', 'CBAM', 'ECA', 'SA'])
def test_yolov5s_ablations_put_mmemas_attention_where_ema_is(attention):
    """mmyolo registers a CBAM of its own; the ablation builds mmema's."""
    from mmema.models import plugins
    name = f'yolov5_s-v61-{attention.lower()}_syncbn_fast_8xb16-300e_coco.py'
    cfg = Config.fromfile(str(CONFIG_DIR / 'ablations' / name))
    backbone = build_model(cfg).backbone
    cls = getattr(plugins, attention)
    placed = {(n, m.in_channels)
              for n, m in backbone.named_modules() if isinstance(m, cls)}
    abbr = cls._abbr_
    assert placed == {(f'stage3.1.{abbr}', 256), (f'stage4.1.{abbr}', 512)}
