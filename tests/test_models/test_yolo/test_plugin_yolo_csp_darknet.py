# Copyright (c) mmema contributors. All rights reserved.
"""mmyolo's YOLOv5/YOLOv8 backbones with plugins: places, parity, keys."""
from typing import Tuple

import pytest
import torch
from mmengine.registry import DefaultScope
from mmyolo.models.backbones import YOLOv5CSPDarknet, YOLOv8CSPDarknet
from mmyolo.registry import MODELS

from mmema.models.plugins import EMA
from mmema.models.yolo import PluginYOLOv5CSPDarknet, PluginYOLOv8CSPDarknet
from mmema.testing import randomize_norms_

SMALL = dict(deepen_factor=0.33, widen_factor=0.5)  # YOLOv5s / YOLOv8s
P4_P5 = (False, False, True, True)
HOSTS = [(PluginYOLOv5CSPDarknet, YOLOv5CSPDarknet),
         (PluginYOLOv8CSPDarknet, YOLOv8CSPDarknet)]


def ema(position: str = 'after_csp',
        stages: Tuple[bool, ...] = P4_P5,
        factor: int = 8) -> dict:
    return dict(
        cfg=dict(type='EMA', factor=factor),
        stages=stages,
        position=position)


def build(cls: type, **kwargs):
    with DefaultScope.overwrite_default_scope('mmyolo'):
        return MODELS.build(dict(type=cls.__name__, **kwargs))


def in_eval(model):
    model.eval()  # mmyolo's BaseBackbone.train returns None: no chaining
    return model


@pytest.mark.parametrize('cls,parent', HOSTS)
def test_after_csp_is_between_the_csp_layer_and_sppf(cls, parent):
    """Independent reference: the plain parent with the same weights, with
    EMA applied by hand to the CSP layers' outputs of stages 3 and 4."""
    model = in_eval(build(cls, plugins=[ema()], **SMALL))
    plain = in_eval(parent(**SMALL))
    randomize_norms_(model)
    missing, unexpected = plain.load_state_dict(
        model.state_dict(), strict=False)
    assert not missing and all('.ema_attn.' in k for k in unexpected)
    assert [n for n, m in model.named_modules() if isinstance(m, EMA)
            ] == ['stage3.1.ema_attn', 'stage4.1.ema_attn']
    assert (model.stage3[1].ema_attn.in_channels,
            model.stage4[1].ema_attn.in_channels) == (256, 512)
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        outs = model(x)
        p3 = plain.stage2(plain.stage1(plain.stem(x)))
        p4 = model.stage3[1].ema_attn(plain.stage3[1](plain.stage3[0](p3)))
        p5 = plain.stage4[1](plain.stage4[0](p4))
        p5 = plain.stage4[2](model.stage4[1].ema_attn(p5))  # then SPPF
        plain_outs = plain(x)
    torch.testing.assert_close(outs[0], p3)
    torch.testing.assert_close(outs[1], p4)
    torch.testing.assert_close(outs[2], p5)
    assert not torch.allclose(outs[2], plain_outs[2])  # EMA is not a no-op


@pytest.mark.parametrize('cls,parent', HOSTS)
def test_after_stage_is_mmyolos_own_placement_key_for_key(cls, parent):
    """Without a position, plugins go where mmyolo's ``plugins`` put them:
    same modules, same keys, same output."""
    plugins = [dict(cfg=dict(type='EMA', factor=8), stages=P4_P5)]
    model = in_eval(build(cls, plugins=plugins, **SMALL))
    upstream = in_eval(parent(plugins=plugins, **SMALL))
    randomize_norms_(model)
    assert list(model.state_dict()) == list(upstream.state_dict())
    assert isinstance(model.stage4[-1], EMA)  # after SPPF
    upstream.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for ours, theirs in zip(model(x), upstream(x)):
            torch.testing.assert_close(ours, theirs)


@pytest.mark.parametrize('cls,parent', HOSTS)
def test_without_plugins_is_the_parent_key_for_key(cls, parent):
    assert list(build(cls, **SMALL).state_dict()) == list(
        parent(**SMALL).state_dict())


@pytest.mark.parametrize('widen_factor,expected', [(0.25, (128, 256)),
                                                   (0.75, (384, 768))])
def test_in_channels_follow_the_built_layers(widen_factor, expected):
    model = build(
        PluginYOLOv5CSPDarknet,
        plugins=[ema()],
        deepen_factor=0.33,
        widen_factor=widen_factor)
    assert (model.stage3[1].ema_attn.in_channels,
            model.stage4[1].ema_attn.in_channels) == expected


def test_yolov8_last_stage_width_is_read_from_the_layer():
    """YOLOv8 sets its last stage's width apart (last_stage_out_channels)."""
    model = build(
        PluginYOLOv8CSPDarknet,
        plugins=[ema()],
        last_stage_out_channels=768,
        deepen_factor=0.67,
        widen_factor=0.75)
    assert model.stage4[1].ema_attn.in_channels == 576  # YOLOv8m


def test_both_positions_and_gradients_reach_the_plugins():
    model = build(
        PluginYOLOv5CSPDarknet,
        plugins=[ema(stages=(False, False, False, True)),
                 ema('after_stage', (False, False, False, True))],
        **SMALL)
    assert isinstance(model.stage4[1].ema_attn, EMA)
    assert isinstance(model.stage4[3], EMA)
    model.train()
    sum(o.sum() for o in model(torch.randn(2, 3, 64, 64))).backward()
    for module in (model.stage4[1].ema_attn, model.stage4[3]):
        for name, p in module.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_frozen_stage_freezes_its_plugin():
    model = build(
        PluginYOLOv5CSPDarknet, plugins=[ema()], frozen_stages=3, **SMALL)
    model.train()
    assert not any(p.requires_grad
                   for p in model.stage3[1].ema_attn.parameters())
    assert all(p.requires_grad for p in model.stage4[1].ema_attn.parameters())


@pytest.mark.parametrize('plugins,error,match', [
    ([ema('after_sppf')], ValueError, "positions \\['after_csp', "),
    ([ema(stages=(True, True))], ValueError, 'one bool per stage'),
    ([ema(), ema()], ValueError, 'distinct postfix'),
    ([dict(cfg=dict(type='EMA', in_channels=8))], ValueError, 'in_channels'),
    (ema(), TypeError, 'list of dicts'),
    ([ema(factor=96)], ValueError, r'stage3: .* at after_csp \(in_channels='
     r'256\).*divisible'),
])
def test_bad_plugins_raise_errors_that_name_the_fix(plugins, error, match):
    with pytest.raises(error, match=match):
        build(PluginYOLOv5CSPDarknet, plugins=plugins, **SMALL)
