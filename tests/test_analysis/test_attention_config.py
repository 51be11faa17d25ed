# Copyright (c) mmema contributors. All rights reserved.
"""attention_of names a config's attention; strip_ema removes every
configured form of EMA and touches nothing else."""
import copy

import pytest

from mmema.analysis.attention_config import attention_of, strip_ema

EMA_PLUGIN = dict(
    cfg=dict(type='EMA', factor=32),
    stages=(False, True, True, True),
    position='after_conv3')
OTHER_PLUGIN = dict(
    cfg=dict(type='ContextBlock', ratio=1. / 16), position='after_conv3')


def test_plugins_list_keeps_other_plugins():
    model = dict(
        type='FasterRCNN',
        backbone=dict(type='ResNet', plugins=[EMA_PLUGIN, OTHER_PLUGIN]))
    before = copy.deepcopy(model)
    stripped, removed = strip_ema(model)
    assert removed == 1
    assert stripped == dict(
        type='FasterRCNN',
        backbone=dict(type='ResNet', plugins=[OTHER_PLUGIN]))
    assert model == before  # the input is not changed


def test_emptied_plugins_and_plugin_cfg_become_none():
    alias = dict(EMA_PLUGIN, cfg=dict(type='EfficientMultiScaleAttention'))
    model = dict(
        backbone=dict(type='PluginResNet', plugins=[EMA_PLUGIN, alias]),
        neck=dict(type='PluginMobileNetV2', plugin_cfg=dict(type='EMA')))
    stripped, removed = strip_ema(model)
    assert removed == 3
    assert stripped['backbone']['plugins'] is None
    assert stripped['neck']['plugin_cfg'] is None


def test_model_without_ema_is_returned_unchanged():
    model = dict(backbone=dict(type='ResNet', plugins=None, depth=50))
    assert strip_ema(model) == (model, 0)


def test_ema_built_directly_cannot_be_removed():
    with pytest.raises(ValueError, match='its own config'):
        strip_ema(dict(neck=dict(attention=dict(type='EMA'))))


def test_attention_of_names_classes_through_the_registry():
    import mmema  # noqa: F401  (registers the attentions)
    assert attention_of(dict(backbone=dict(type='ResNet')), None) == 'baseline'
    cbam = dict(cfg=dict(type='ConvBlockAttention'), stages=(True, ) * 4)
    assert attention_of(dict(backbone=dict(plugins=[cbam])), None) == 'CBAM'
    both = dict(
        backbone=dict(plugins=[EMA_PLUGIN]),
        neck=dict(plugins=[cbam, EMA_PLUGIN]))
    assert attention_of(both, None) == 'EMA+CBAM'
    old = dict(
        backbone=dict(plugin_cfg=dict(type='EfficientMultiScaleAttention')))
    assert attention_of(old, None) == 'EMA'
