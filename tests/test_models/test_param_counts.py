# Copyright (c) mmema contributors. All rights reserved.
"""Each classification config's parameters: baseline plus EMA's own.

The EMA layers each config should add are counted here from the networks'
published architectures and EMA's formula, independently of the code that
builds them. The baseline is the config with its documented override.
"""
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpretrain.registry import MODELS

CONFIGS = Path(__file__).parents[2] / 'configs'
# ResNet paper, Table 1: blocks per stage.
RESNET_BLOCKS = {18: (2, 2, 2, 2), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}
# MobileNetV2 paper, Table 2: expansion t, output channels c, repeats n.
MOBILENET_V2_TABLE = [(1, 16, 1), (6, 24, 2), (6, 32, 3), (6, 64, 4),
                      (6, 96, 3), (6, 160, 3), (6, 320, 1)]


def ema_params(channels: int, factor: int = 32) -> int:
    """EMA_SPEC.md, with c = channels / factor: conv1x1 c -> c with bias
    (c*c + c), conv3x3 c -> c with bias (9*c*c + c), GroupNorm's affine
    (2*c)."""
    c = channels // factor
    return c * c + c + 9 * c * c + c + 2 * c


def resnet_ema_params(depth: int) -> int:
    """EMA after the last conv of every block: its out channels."""
    expansion = 1 if depth < 50 else 4
    return sum(n * ema_params(64 * 2**i * expansion)
               for i, n in enumerate(RESNET_BLOCKS[depth]))


def mobilenet_v2_ema_params(threshold: int = 144) -> int:
    """EMA on the hidden width of every block wider than ``threshold``."""
    total, in_channels = 0, 32
    for t, c, n in MOBILENET_V2_TABLE:
        for _ in range(n):
            if in_channels * t > threshold:
                total += ema_params(in_channels * t)
            in_channels = c
    return total


# config: (EMA layers' parameters, baseline's parameters in the paper or the
# reference implementation, in millions, rounded as published).
EXPECTED: Dict[str, tuple] = {
    'ema_resnet50_cifar100.py': (resnet_ema_params(50), 23.71),
    'classification/resnet101-ema_1xb128_cifar100.py':
    (resnet_ema_params(101), 42.70),
    'classification/resnet18-ema_1xb128_cifar100.py':
    (resnet_ema_params(18), None),
    # torchvision's ResNet-50 has 25,557,032 parameters.
    'classification/resnet50-ema_8xb32_in1k.py':
    (resnet_ema_params(50), 25.56),
    'classification/mobilenet-v2-ema_8xb32_in1k.py':
    (mobilenet_v2_ema_params(), 3.50),
}


def classification_configs() -> List[str]:
    return ['ema_resnet50_cifar100.py'] + sorted(
        str(p.relative_to(CONFIGS))
        for p in (CONFIGS / 'classification').glob('*.py'))


def build_model(config: str, options: Optional[dict] = None) -> nn.Module:
    cfg = Config.fromfile(CONFIGS / config)
    if options:
        cfg.merge_from_dict(options)
    init_default_scope(cfg.default_scope)
    return MODELS.build(cfg.model)


def count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def baseline_override(config: str) -> dict:
    """The override each config documents for its baseline."""
    key = 'model.backbone.plugins'
    text = (CONFIGS / config).read_text()
    assert f'--cfg-options {key}=None' in text, f'{config} must document it'
    return {key: None}


def test_every_classification_config_has_an_expectation():
    assert set(classification_configs()) == set(EXPECTED)


@pytest.mark.parametrize('config', classification_configs())
def test_ema_params_equal_baseline_plus_ema_layers(config):
    ema_layer_params, published_baseline_m = EXPECTED[config]
    ema_model = build_model(config)
    baseline = build_model(config, baseline_override(config))
    assert not any('ema_attn' in name for name, _ in baseline.named_modules())
    assert count(ema_model) == count(baseline) + ema_layer_params
    if published_baseline_m is not None:
        assert round(count(baseline) / 1e6, 2) == published_baseline_m


def test_nam_after_conv2_is_the_papers_nam_cell():
    """NAM normalises the channels it sees with an affine BN (2 parameters
    a channel); after conv2 of every bottleneck that is width c."""
    from mmema.analysis import get_paper_table
    config = 'ablations/resnet50-nam-paper-params_cifar100.py'
    widths = [
        64 * 2**i for i, n in enumerate(RESNET_BLOCKS[50]) for _ in range(n)
    ]
    baseline = count(build_model(config, {'model.backbone.plugins': None}))
    measured = count(build_model(config))
    assert measured == baseline + sum(2 * c for c in widths) == 23_712_804
    paper = get_paper_table('cifar100_resnet50').row('NAM')
    assert paper.params_match(measured)
    after_conv3 = count(build_model('ablations/resnet50-nam_cifar100.py'))
    assert after_conv3 == baseline + sum(2 * 4 * c for c in widths)
    assert not paper.params_match(after_conv3)
