# Copyright (c) mmema contributors. All rights reserved.
"""MobileNetV2 with EMA after the depthwise conv of its wide blocks."""
from typing import List

import pytest
import torch
import torch.nn as nn
from mmcv.cnn import ContextBlock
from mmpretrain.models.backbones import MobileNetV2
from mmpretrain.models.backbones.mobilenet_v2 import InvertedResidual
from mmpretrain.registry import MODELS

from mmema.models.backbones import PluginInvertedResidual, PluginMobileNetV2
from mmema.models.plugins import EMA

pytestmark = pytest.mark.usefixtures('mmpretrain_scope')

# MobileNetV2 paper, Table 2: expansion t, output channels c, repeats n.
PAPER_TABLE = [(1, 16, 1), (6, 24, 2), (6, 32, 3), (6, 64, 4), (6, 96, 3),
               (6, 160, 3), (6, 320, 1)]


def paper_hidden_widths() -> List[int]:
    """Hidden width of each of the 17 blocks: input channels times t."""
    widths, in_channels = [], 32
    for t, c, n in PAPER_TABLE:
        for _ in range(n):
            widths.append(in_channels * t)
            in_channels = c
    return widths


def blocks(backbone: MobileNetV2) -> List[nn.Module]:
    return [
        b for name in backbone.layers[:-1] for b in getattr(backbone, name)
    ]


def test_default_puts_ema_in_blocks_wider_than_144():
    backbone = MODELS.build(dict(type='PluginMobileNetV2'))
    widths = paper_hidden_widths()
    assert len(blocks(backbone)) == len(widths) == 17
    for block, width in zip(blocks(backbone), widths):
        if width > 144:
            assert isinstance(block, PluginInvertedResidual)
            assert isinstance(block.ema_attn, EMA)
            assert (block.ema_attn.in_channels,
                    block.ema_attn.factor) == (width, 32)
        else:
            assert type(block) is InvertedResidual
    assert sum(w > 144 for w in widths) == 13
    assert backbone(torch.randn(1, 3, 64, 64))[0].shape == (1, 1280, 2, 2)


@pytest.mark.parametrize('threshold', [0, 144, 400])
def test_threshold_is_configurable(threshold):
    backbone = PluginMobileNetV2(
        plugin_cfg=dict(type='EMA', factor=8),
        plugin_hidden_threshold=threshold)
    with_plugin = [hasattr(b, 'ema_attn') for b in blocks(backbone)]
    assert with_plugin == [w > threshold for w in paper_hidden_widths()]


def test_ema_sits_between_depthwise_and_pointwise_linear_conv():
    backbone = PluginMobileNetV2()
    backbone.eval()
    block = backbone.layer4[1]  # hidden 384, with expand conv
    seen = {}

    def record(name):

        def hook(module, inputs, output):
            seen[name] = (inputs[0].clone(), output.clone())

        return hook

    block.conv[1].register_forward_hook(record('depthwise'))
    block.ema_attn.register_forward_hook(record('ema'))
    block.conv[2].register_forward_hook(record('linear'))
    x = torch.randn(2, 64, 8, 8)
    out = block(x)
    torch.testing.assert_close(seen['ema'][0], seen['depthwise'][1])
    torch.testing.assert_close(seen['linear'][0], seen['ema'][1])
    torch.testing.assert_close(out, x + seen['linear'][1])
    assert not torch.allclose(seen['ema'][0], seen['ema'][1])


def test_without_plugin_equals_upstream():
    upstream = MobileNetV2()
    ours = PluginMobileNetV2(plugin_cfg=None)
    assert list(ours.state_dict()) == list(upstream.state_dict())
    ours.load_state_dict(upstream.state_dict())
    upstream.eval()
    ours.eval()
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(ours(x), upstream(x), rtol=0, atol=0)


def test_upstream_checkpoint_loads_leaving_only_plugin_keys_missing(tmp_path):
    upstream = MobileNetV2()
    path = tmp_path / 'mobilenet_v2.pth'
    torch.save({'state_dict': upstream.state_dict()}, path)
    ours = PluginMobileNetV2()
    plugin_keys = {k for k in ours.state_dict() if '.ema_attn.' in k}
    assert len(plugin_keys) == 6 * 13
    result = ours.load_state_dict(torch.load(path)['state_dict'], strict=False)
    assert result.unexpected_keys == []
    assert set(result.missing_keys) == plugin_keys
    pretrained = PluginMobileNetV2(
        init_cfg=dict(type='Pretrained', checkpoint=str(path)))
    pretrained.init_weights()
    loaded = pretrained.state_dict()
    for key, value in upstream.state_dict().items():
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=0)


def test_any_plugin_type_and_gradients_with_checkpointing():
    backbone = PluginMobileNetV2(
        plugin_cfg=dict(type='ContextBlock', ratio=0.25),
        plugin_hidden_threshold=400,
        with_cp=True)
    hosts = [b for b in blocks(backbone) if hasattr(b, 'context_block')]
    widths = [b.context_block.in_channels for b in hosts]
    assert widths == [576] * 3 + [960] * 3
    for block in hosts:
        assert isinstance(block.context_block, ContextBlock)
        nn.init.normal_(block.context_block.channel_add_conv[-1].weight)
    # 64 px: the hosts see 4x4 and 2x2 maps (attention pooling over a 1x1
    # map has no gradient).
    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    backbone(x)[0].square().sum().backward()
    for block in hosts:
        for name, param in block.context_block.named_parameters():
            if name == 'conv_mask.bias':
                continue  # a softmax is blind to a shared shift of its logits
            assert param.grad is not None and param.grad.abs().sum() > 0, name


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(plugin_cfg=dict(factor=32)), TypeError, "with a 'type'"),
    (dict(plugin_cfg='EMA'), TypeError, "with a 'type'"),
    (dict(plugin_hidden_threshold=-1), ValueError, 'int >= 0'),
    (dict(plugin_cfg=dict(type='EMA', factor=128)), ValueError,
     r'after_depthwise \(in_channels=192\).*divisible'),
])
def test_bad_arguments_raise_errors_that_name_the_fix(kwargs, error, match):
    with pytest.raises(error, match=match):
        PluginMobileNetV2(**kwargs)


def test_plugins_form_is_the_default_and_takes_stages():
    """The paper's placement is PAPER_PLUGINS; ``stages`` (7 stages) picks
    stages as in every other backbone."""
    from mmema.models.backbones.plugin_mobilenet_v2 import PAPER_PLUGINS
    default = PluginMobileNetV2()
    explicit = PluginMobileNetV2(plugins=[
        dict(cfg=dict(type='EMA', factor=32), position='after_depthwise')
    ])
    assert list(default.state_dict()) == list(explicit.state_dict())
    assert PAPER_PLUGINS[0]['cfg'] == dict(type='EMA', factor=32)
    # Stages 6 and 7 only: hidden widths 576 (x3, the first from 96) and
    # 960 (x4).
    late = PluginMobileNetV2(plugins=[
        dict(
            cfg=dict(type='EMA', factor=32),
            stages=(False, ) * 5 + (True, ) * 2)
    ])
    widths = [b.ema_attn.in_channels for b in blocks(late)
              if hasattr(b, 'ema_attn')]
    assert widths == [576, 960, 960, 960]
    assert PluginMobileNetV2(plugins=None).state_dict().keys() == \
        MobileNetV2().state_dict().keys()


def test_deprecated_plugin_cfg_is_the_plugins_form():
    with pytest.warns(DeprecationWarning, match='plugins=\\[dict\\(cfg'):
        old = PluginMobileNetV2(plugin_cfg=dict(type='EMA', factor=8))
    new = PluginMobileNetV2(plugins=[dict(cfg=dict(type='EMA', factor=8))])
    assert list(old.state_dict()) == list(new.state_dict())
    with pytest.raises(ValueError, match='not both'):
        PluginMobileNetV2(plugins=None, plugin_cfg=dict(type='EMA'))
