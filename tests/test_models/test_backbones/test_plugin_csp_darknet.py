# Copyright (c) mmema contributors. All rights reserved.
"""PluginCSPDarknet: placement, channels, parity, checkpoints, errors."""
from typing import Tuple

import pytest
import torch
from mmcv.cnn import ContextBlock
from mmdet.models.backbones import CSPDarknet
from mmdet.registry import MODELS
from mmengine.registry import DefaultScope

from mmema.models.backbones import PluginCSPDarknet
from mmema.models.plugins import EMA
from mmema.testing import randomize_norms_

# YOLOv5s / YOLOX-s depth and width, the config's setting.
SMALL = dict(deepen_factor=0.33, widen_factor=0.5)
P4_P5 = (False, False, True, True)


def ema(stages: Tuple[bool, ...] = P4_P5, **cfg) -> dict:
    return dict(cfg=dict(type='EMA', factor=8, **cfg), stages=stages)


def build(**kwargs) -> PluginCSPDarknet:
    with DefaultScope.overwrite_default_scope('mmdet'):
        return MODELS.build(dict(type='PluginCSPDarknet', **kwargs))


def test_registered_in_mmdet_and_plugins_follow_p4_p5():
    model = build(plugins=[ema()], **SMALL)
    assert isinstance(model, PluginCSPDarknet)
    assert not any(isinstance(m, EMA) for m in model.stage1.modules())
    assert not any(isinstance(m, EMA) for m in model.stage2.modules())
    # Appended after the CSP layer: the last child of stages 3 and 4.
    assert isinstance(model.stage3[-1], EMA)
    assert isinstance(model.stage4[-1], EMA)
    assert model.stage3.ema_attn.in_channels == 256  # 512 * 0.5
    assert model.stage4.ema_attn.in_channels == 512  # 1024 * 0.5


@pytest.mark.parametrize('widen_factor,expected', [(0.25, (128, 256)),
                                                   (1.0, (512, 1024))])
def test_in_channels_follow_widen_factor(widen_factor, expected):
    model = build(
        plugins=[ema()], deepen_factor=0.33, widen_factor=widen_factor)
    assert (model.stage3.ema_attn.in_channels,
            model.stage4.ema_attn.in_channels) == expected


def test_forward_equals_parent_stages_then_plugins():
    """Independent reference: a plain CSPDarknet with the same weights, with
    the plugins applied by hand after stages 3 and 4."""
    # CSPDarknet.train returns None, so eval() does not chain.
    model, plain = build(plugins=[ema()], **SMALL), CSPDarknet(**SMALL)
    model.eval()
    plain.eval()
    randomize_norms_(model)
    plain.load_state_dict(model.state_dict(), strict=False)
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        outs = model(x)
        c2 = plain.stage2(plain.stage1(plain.stem(x)))
        c3 = model.stage3.ema_attn(plain.stage3(c2))
        c4 = model.stage4.ema_attn(plain.stage4(c3))
        plain_outs = plain(x)
    assert [o.shape for o in outs] == [(2, 128, 8, 12), (2, 256, 4, 6),
                                       (2, 512, 2, 3)]
    torch.testing.assert_close(outs[0], c2)
    torch.testing.assert_close(outs[1], c3)
    torch.testing.assert_close(outs[2], c4)
    # The plugins change the features (the comparison above is not vacuous).
    assert not torch.allclose(outs[1], plain_outs[1])


def test_without_plugins_is_csp_darknet_key_for_key():
    model, plain = build(plugins=None, **SMALL), CSPDarknet(**SMALL)
    model.eval()
    plain.eval()
    assert list(model.state_dict()) == list(plain.state_dict())
    plain.load_state_dict(model.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(model(x), plain(x)):
            torch.testing.assert_close(a, b)


def test_plain_checkpoint_loads_with_only_plugin_keys_missing(tmp_path):
    plain = CSPDarknet(**SMALL)
    path = tmp_path / 'csp_darknet.pth'
    torch.save({'state_dict': plain.state_dict()}, path)
    model = build(plugins=[ema()], **SMALL)
    result = model.load_state_dict(
        torch.load(path)['state_dict'], strict=False)
    plugin_keys = {
        k
        for k in model.state_dict() if '.ema_attn.' in k
    }
    assert plugin_keys  # conv1x1/conv3x3/gn of two plugins
    assert set(result.missing_keys) == plugin_keys
    assert result.unexpected_keys == []
    for key, value in plain.state_dict().items():
        torch.testing.assert_close(model.state_dict()[key], value)


def test_pretrained_init_cfg_loads_plain_checkpoint(tmp_path):
    plain = CSPDarknet(**SMALL)
    path = tmp_path / 'csp_darknet.pth'
    torch.save({'state_dict': plain.state_dict()}, path)
    model = build(
        plugins=[ema()],
        init_cfg=dict(type='Pretrained', checkpoint=str(path)),
        **SMALL)
    model.init_weights()
    torch.testing.assert_close(model.stage4[-2].final_conv.conv.weight,
                               plain.stage4[-1].final_conv.conv.weight)


def test_any_plugin_type_context_block_and_postfix():
    plugins = [
        dict(
            cfg=dict(type='ContextBlock', ratio=1. / 4),
            stages=(False, True, False, True)),
        ema(stages=None, postfix='_a'),
        ema(stages=(False, False, False, True), postfix='_b'),
    ]
    model = build(plugins=plugins, **SMALL)
    assert isinstance(model.stage2.context_block, ContextBlock)
    assert model.stage2.context_block.in_channels == 128
    assert model.stage4.context_block.in_channels == 512
    assert not hasattr(model.stage3, 'context_block')
    for i, channels in enumerate((64, 128, 256, 512), start=1):
        assert getattr(model, f'stage{i}').ema_attn_a.in_channels == channels
    # Plugins follow the list's order at the end of the stage.
    assert [n for n, _ in model.stage4.named_children()][-3:] == [
        'context_block', 'ema_attn_a', 'ema_attn_b'
    ]
    outs = model(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == [128, 256, 512]


def test_p6_arch_takes_five_stage_flags():
    model = build(
        arch='P6',
        out_indices=(2, 3, 4, 5),
        plugins=[ema(stages=(False, False, False, True, True))],
        **SMALL)
    assert model.stage4.ema_attn.in_channels == 384  # 768 * 0.5
    assert model.stage5.ema_attn.in_channels == 512


def test_gradients_reach_plugins_and_frozen_stage_freezes_its_plugin():
    model = build(plugins=[ema()], frozen_stages=3, **SMALL)
    model.train()
    sum(o.sum() for o in model(torch.randn(2, 3, 64, 64))).backward()
    for p in model.stage3.ema_attn.parameters():
        assert not p.requires_grad and p.grad is None
    for name, p in model.stage4.ema_attn.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize(
    'plugins,error,match',
    [
        ([ema(stages=(True, True, True))], ValueError, 'one bool per stage'),
        ([dict(ema(), position='after_conv3')], ValueError, 'position'),
        ([dict(cfg=dict(type='EMA', in_channels=256))], ValueError,
         'in_channels'),
        ([ema(), ema()], ValueError, 'postfix'),
        ([dict(type='EMA')], TypeError, 'cfg'),
        (dict(cfg=dict(type='EMA')), TypeError, 'list'),
        # Stage 2 at widen_factor 0.375 has 96 channels.
        ([dict(cfg=dict(type='EMA', factor=64), stages=(False, True, False,
                                                        False))], ValueError,
         'not divisible by factor'),
    ])
def test_bad_plugins_raise_with_the_fix(plugins, error, match):
    with pytest.raises(error, match=match):
        build(plugins=plugins, deepen_factor=0.33, widen_factor=0.375)
