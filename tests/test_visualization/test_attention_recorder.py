# Copyright (c) mmema contributors. All rights reserved.
"""Attention capture by hooks: values, grouping by stage, clean-up."""
import pytest
import torch
import torch.nn as nn

from mmema.models.plugins import EMA
from mmema.models.plugins.ema_paths import ReferenceEMA
from mmema.visualization import EMAAttentionRecorder, stage_name


@pytest.mark.parametrize('layer, stage', [
    ('backbone.layer2.3.ema_attn', 'backbone.layer2'),
    ('backbone.stage3.1.ema_attn', 'backbone.stage3'),
    ('backbone.layers.0.conv.1.ema_attn', 'backbone.layers'),
    ('neck.ema', 'neck'),
    ('ema', 'ema'),
])
def test_stage_name(layer, stage):
    assert stage_name(layer) == stage


def published_attention(x: torch.Tensor, layer: EMA) -> torch.Tensor:
    """The published EMA's gate, recovered as output / input (B, H, W)."""
    published = ReferenceEMA(layer.in_channels, layer.factor).double()
    published.load_state_dict(layer.state_dict(), strict=False)
    b, c, h, w = x.shape
    ratio = published(x) / x  # sigmoid(weights), repeated over channels
    return ratio.reshape(b, layer.factor, c // layer.factor, h, w).mean((1, 2))


class TwoStages(nn.Module):
    """Two EMA stages at different resolutions, like a backbone."""

    def __init__(self) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(EMA(16, factor=4), EMA(16, factor=4))
        self.down = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.layer2 = nn.Sequential(EMA(32, factor=8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer2(self.down(self.layer1(x)))


def test_maps_equal_the_published_gate_averaged_over_groups():
    torch.manual_seed(0)
    model = TwoStages().double()
    for p in model.parameters():
        nn.init.normal_(p, std=0.5)
    x = torch.randn(2, 16, 12, 10, dtype=torch.double)
    with EMAAttentionRecorder(model) as recorder:
        model(x)
    first = published_attention(x, model.layer1[0])
    second = published_attention(model.layer1[0](x), model.layer1[1])
    third = published_attention(model.down(model.layer1(x)), model.layer2[0])
    torch.testing.assert_close(recorder.layer_maps['layer1.0'], first)
    stages = recorder.stage_maps()
    assert list(stages) == ['layer1', 'layer2']
    torch.testing.assert_close(stages['layer1'], (first + second) / 2)
    torch.testing.assert_close(stages['layer2'], third)
    assert stages['layer2'].shape == (2, 6, 5)


def test_stage_maps_of_different_sizes_are_resized_to_the_largest():
    model = nn.Sequential(EMA(8, factor=2), nn.AvgPool2d(2), EMA(8, factor=2))
    with EMAAttentionRecorder(model) as recorder:
        model(torch.randn(1, 8, 8, 8))
    # Both EMAs sit at the top level: one stage, the model itself.
    assert recorder.stage_maps()['0'].shape == (1, 8, 8)


def test_hooks_are_removed_on_exit():
    model = TwoStages()
    with EMAAttentionRecorder(model) as recorder:
        model(torch.randn(1, 16, 8, 8))
    recorder.layer_maps.clear()
    model(torch.randn(1, 16, 8, 8))
    assert recorder.layer_maps == {}
    assert not model.layer1[0].attn_gate._forward_hooks


def test_model_without_ema_is_refused():
    with pytest.raises(
            ValueError, match="plugins=\\[dict\\(cfg=dict\\(type='EMA'"):
        EMAAttentionRecorder(nn.Conv2d(3, 3, 1))


def test_layer_that_did_not_run_is_reported():
    model = TwoStages()
    with EMAAttentionRecorder(model) as recorder:
        model.layer1(torch.randn(1, 16, 8, 8))
    with pytest.raises(RuntimeError, match=r"\['layer2.0'\]"):
        recorder.stage_maps()
