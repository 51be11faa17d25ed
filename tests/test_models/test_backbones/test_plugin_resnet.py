# Copyright (c) mmema contributors. All rights reserved.
"""Plugin-ready mmpretrain ResNets: placement, parity, checkpoints, errors."""
from typing import Dict, List, Type

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ContextBlock
from mmpretrain.models.backbones import ResNet, ResNet_CIFAR, ResNetV1d
from mmpretrain.registry import MODELS

from mmema.models.backbones import (PluginBasicBlock, PluginBottleneck,
                                    PluginResNet, PluginResNet_CIFAR,
                                    PluginResNetV1d)
from mmema.testing import randomize_norms_

pytestmark = pytest.mark.usefixtures('mmpretrain_scope')

UPSTREAM: Dict[str, Type[ResNet]] = {
    'PluginResNet': ResNet,
    'PluginResNetV1d': ResNetV1d,
    'PluginResNet_CIFAR': ResNet_CIFAR,
}
# The position after the last conv+norm of each block type.
LAST_POSITION = {18: 'after_conv2', 50: 'after_conv3'}
# Out channels of each stage's blocks: 64 * 2**i, times 4 in bottlenecks.
STAGE_WIDTHS = {18: (64, 128, 256, 512), 50: (256, 512, 1024, 2048)}


def ema_plugin(position: str, factor: int = 8, **kwargs: object) -> dict:
    return dict(
        cfg=dict(type='EMA', factor=factor), position=position, **kwargs)


def image_size(type_name: str) -> int:
    return 32 if type_name == 'PluginResNet_CIFAR' else 64


def run_plugins(block: nn.Module, names: List[str],
                x: torch.Tensor) -> torch.Tensor:
    for name in names:
        x = getattr(block, name)(x)
    return x


def reference_forward(block: nn.Module, x: torch.Tensor,
                      names: Dict[str, List[str]]) -> torch.Tensor:
    """mmdet's documented plugin order, written out from the submodules."""
    identity = x if block.downsample is None else block.downsample(x)
    out = F.relu(block.norm1(block.conv1(x)))
    out = run_plugins(block, names.get('after_conv1', []), out)
    if isinstance(block, PluginBasicBlock):
        out = block.norm2(block.conv2(out))
        out = run_plugins(block, names.get('after_conv2', []), out)
    else:
        out = F.relu(block.norm2(block.conv2(out)))
        out = run_plugins(block, names.get('after_conv2', []), out)
        out = block.norm3(block.conv3(out))
        out = run_plugins(block, names.get('after_conv3', []), out)
    return F.relu(out + identity)


@pytest.mark.parametrize('position', ['after_conv1', 'after_conv2'])
def test_basic_block_runs_plugin_at_position(position):
    block = PluginBasicBlock(
        in_channels=32, out_channels=32, plugins=[ema_plugin(position)])
    randomize_norms_(block)
    block.eval()
    x = torch.randn(2, 32, 8, 8)
    assert block.plugin_names[position] == ['ema_attn']
    torch.testing.assert_close(
        block(x), reference_forward(block, x, {position: ['ema_attn']}))


@pytest.mark.parametrize('positions',
                         [('after_conv1', ), ('after_conv2', ),
                          ('after_conv3', ),
                          ('after_conv1', 'after_conv2', 'after_conv3')])
def test_bottleneck_runs_plugins_at_positions(positions):
    plugins = [
        dict(cfg=dict(type='EMA', factor=8, postfix=f'_{i}'), position=p)
        for i, p in enumerate(positions)
    ]
    downsample = nn.Sequential(
        nn.Conv2d(32, 64, 1, stride=2, bias=False), nn.BatchNorm2d(64))
    block = PluginBottleneck(
        in_channels=32,
        out_channels=64,
        stride=2,
        downsample=downsample,
        plugins=plugins)
    randomize_norms_(block)
    block.eval()
    names = {p: [f'ema_attn_{i}'] for i, p in enumerate(positions)}
    mid_or_out = {'after_conv1': 16, 'after_conv2': 16, 'after_conv3': 64}
    for position, (name, ) in names.items():
        assert getattr(block, name).in_channels == mid_or_out[position]
    x = torch.randn(2, 32, 8, 8)
    out = block(x)
    assert out.shape == (2, 64, 4, 4)
    torch.testing.assert_close(out, reference_forward(block, x, names))


def test_plugins_at_one_position_run_in_list_order():
    plugins = [
        dict(
            cfg=dict(type='EMA', factor=16, postfix='_a'),
            position='after_conv3'),
        dict(
            cfg=dict(type='ContextBlock', ratio=0.25), position='after_conv3'),
        dict(
            cfg=dict(type='EMA', factor=8, postfix='_b'),
            position='after_conv3'),
    ]
    block = PluginBottleneck(in_channels=64, out_channels=64, plugins=plugins)
    randomize_norms_(block)
    nn.init.normal_(block.context_block.channel_add_conv[-1].weight)
    block.eval()
    order = ['ema_attn_a', 'context_block', 'ema_attn_b']
    assert block.plugin_names['after_conv3'] == order
    x = torch.randn(2, 64, 6, 6)
    torch.testing.assert_close(
        block(x), reference_forward(block, x, {'after_conv3': order}))
    swapped = ['ema_attn_b', 'context_block', 'ema_attn_a']
    assert not torch.allclose(
        block(x), reference_forward(block, x, {'after_conv3': swapped}))


@pytest.mark.parametrize('type_name', list(UPSTREAM))
@pytest.mark.parametrize('depth', [18, 50])
def test_registry_builds_with_plugins_in_selected_stages(type_name, depth):
    stages = (False, True, False, True)
    backbone = MODELS.build(
        dict(
            type=type_name,
            depth=depth,
            out_indices=(0, 1, 2, 3),
            plugins=[
                ema_plugin(LAST_POSITION[depth], factor=32, stages=stages)
            ]))
    assert isinstance(backbone, UPSTREAM[type_name])
    widths = STAGE_WIDTHS[depth]
    for stage_idx, layer_name in enumerate(backbone.res_layers):
        for block in getattr(backbone, layer_name):
            assert hasattr(block, 'ema_attn') == stages[stage_idx]
            if stages[stage_idx]:
                assert block.ema_attn.in_channels == widths[stage_idx]
    size = image_size(type_name)
    outs = backbone(torch.randn(1, 3, size, size))
    first = size if type_name == 'PluginResNet_CIFAR' else size // 4
    expected = [(1, w, first // 2**i, first // 2**i)
                for i, w in enumerate(widths)]
    assert [tuple(o.shape) for o in outs] == expected


@pytest.mark.parametrize('type_name', list(UPSTREAM))
@pytest.mark.parametrize('depth', [18, 50])
def test_without_plugins_equals_upstream(type_name, depth):
    upstream = UPSTREAM[type_name](depth=depth)
    randomize_norms_(upstream)
    ours = MODELS.build(dict(type=type_name, depth=depth))
    assert list(ours.state_dict()) == list(upstream.state_dict())
    ours.load_state_dict(upstream.state_dict())
    upstream.eval()
    ours.eval()
    size = image_size(type_name)
    x = torch.randn(2, 3, size, size)
    torch.testing.assert_close(ours(x), upstream(x), rtol=0, atol=0)


@pytest.mark.parametrize('type_name', list(UPSTREAM))
@pytest.mark.parametrize('depth', [18, 50])
def test_upstream_checkpoint_loads_leaving_only_plugin_keys_missing(
        type_name, depth, tmp_path):
    upstream = UPSTREAM[type_name](depth=depth)
    randomize_norms_(upstream)
    path = tmp_path / 'upstream.pth'
    torch.save({'state_dict': upstream.state_dict()}, path)
    cfg = dict(
        type=type_name,
        depth=depth,
        plugins=[ema_plugin(LAST_POSITION[depth], factor=32)])
    ours = MODELS.build(cfg)
    plugin_keys = {k for k in ours.state_dict() if '.ema_attn.' in k}
    assert len(plugin_keys) == 6 * sum(ours.stage_blocks)
    result = ours.load_state_dict(torch.load(path)['state_dict'], strict=False)
    assert result.unexpected_keys == []
    assert set(result.missing_keys) == plugin_keys
    # The route a config takes: init_cfg=dict(type='Pretrained', ...).
    pretrained = MODELS.build(
        dict(cfg, init_cfg=dict(type='Pretrained', checkpoint=str(path))))
    pretrained.init_weights()
    loaded = pretrained.state_dict()
    for key, value in upstream.state_dict().items():
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=0)


def test_gradients_reach_every_plugin_parameter():
    backbone = PluginResNet_CIFAR(
        depth=18,
        plugins=[
            ema_plugin('after_conv2', factor=32),
            dict(
                cfg=dict(type='ContextBlock', ratio=0.25),
                stages=(False, False, True, True),
                position='after_conv1'),
        ])
    for module in backbone.modules():
        if isinstance(module, ContextBlock):
            # Its last conv starts at zero, which would stop the gradient.
            nn.init.normal_(module.channel_add_conv[-1].weight)
    out = backbone(torch.randn(2, 3, 16, 16))[0]
    (out * torch.randn_like(out)).sum().backward()
    plugin_params = [(n, p) for n, p in backbone.named_parameters()
                     if '.ema_attn.' in n or '.context_block.' in n]
    assert len(plugin_params) == 6 * 8 + 8 * 4  # EMA: 6, ContextBlock: 8
    for name, param in plugin_params:
        if name.endswith('conv_mask.bias'):
            continue  # a softmax is blind to a shared shift of its logits
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def test_checkpointed_block_gives_the_same_output_and_gradients():
    torch.manual_seed(0)
    plain = PluginBottleneck(
        in_channels=64, out_channels=64, plugins=[ema_plugin('after_conv3')])
    checkpointed = PluginBottleneck(
        in_channels=64,
        out_channels=64,
        with_cp=True,
        plugins=[ema_plugin('after_conv3')])
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 64, 6, 6, requires_grad=True)
    x_cp = x.detach().clone().requires_grad_()
    plain(x).square().sum().backward()
    checkpointed(x_cp).square().sum().backward()
    torch.testing.assert_close(x_cp.grad, x.grad)
    torch.testing.assert_close(checkpointed.ema_attn.conv3x3.weight.grad,
                               plain.ema_attn.conv3x3.weight.grad)


@pytest.mark.parametrize('cls', [PluginResNet, PluginResNetV1d])
def test_subclasses_keep_upstream_stems(cls):
    backbone = cls(depth=18)
    assert backbone.deep_stem == (cls is PluginResNetV1d)
    assert backbone.avg_down == (cls is PluginResNetV1d)


@pytest.mark.parametrize('plugins, error, match', [
    ([ema_plugin('after_conv3')], ValueError, "'after_conv2' is after"),
    ([ema_plugin('after_conv2'),
      ema_plugin('after_conv1')], ValueError, 'distinct postfix'),
    ([ema_plugin('after_conv2', stages=(True, True))
      ], ValueError, 'one bool per stage'),
    ([dict(ema_plugin('after_conv2'), postfix='1')
      ], KeyError, 'postfix goes inside cfg'),
    ([dict(cfg=dict(factor=8), position='after_conv2')
      ], TypeError, "with a 'type'"),
    ([dict(cfg=dict(type='NoSuchPlugin'), position='after_conv2')
      ], KeyError, 'registered'),
    ([ema_plugin('after_conv1', factor=48)
      ], ValueError, r'after_conv1 \(in_channels=64\).*divisible'),
    (ema_plugin('after_conv2'), TypeError, 'list of dicts'),
])
def test_bad_plugins_raise_errors_that_name_the_fix(plugins, error, match):
    with pytest.raises(error, match=match):
        PluginResNet_CIFAR(depth=18, plugins=plugins)
