# Copyright (c) mmema contributors. All rights reserved.
"""mmyolo's PAFPN necks with plugins, and YOLOv5's P2 neck."""
from typing import List

import pytest
import torch
from mmengine.registry import DefaultScope
from mmyolo.models.necks import YOLOv5PAFPN, YOLOv8PAFPN
from mmyolo.registry import MODELS

from mmema.models.plugins import EMA
from mmema.models.yolo import PluginYOLOv5PAFPN, YOLOv5P2PAFPN
from mmema.testing import randomize_norms_

# YOLOv5s' neck.
V5S = dict(
    in_channels=[256, 512, 1024],
    out_channels=[256, 512, 1024],
    deepen_factor=0.33,
    widen_factor=0.5,
    num_csp_blocks=3)
# YOLOv5x-P2's neck (yolov5-p2.yaml at YOLOv5x's depth and width).
P2X = dict(
    in_channels=[128, 256, 512, 1024],
    out_channels=[256, 256, 512, 1024],
    deepen_factor=1.33,
    widen_factor=1.25,
    num_csp_blocks=3)


def ema(position: str, stages: tuple, factor: int = 8) -> dict:
    return dict(
        cfg=dict(type='EMA', factor=factor), stages=stages, position=position)


def build(type_name: str, **kwargs):
    with DefaultScope.overwrite_default_scope('mmyolo'):
        return MODELS.build(dict(type=type_name, **kwargs))


def features(channels: List[int], size: int = 16) -> List[torch.Tensor]:
    """Backbone outputs, finest first, halving in size level by level."""
    gen = torch.Generator().manual_seed(0)
    return [
        torch.randn(2, c, size >> i, size >> i, generator=gen)
        for i, c in enumerate(channels)
    ]


def pafpn_by_hand(neck, inputs: List[torch.Tensor], td_ema: dict,
                  bu_ema: dict) -> List[torch.Tensor]:
    """BaseYOLONeck.forward written out for three levels, with EMA applied
    where asked: ``td_ema[level]`` after the top-down C3 of ``level``
    (before YOLOv5's lateral conv), ``bu_ema[level]`` after the bottom-up
    C3."""
    cat = torch.cat
    p3, p4, p5 = inputs
    r5 = neck.reduce_layers[2](p5)
    csp4, lateral4 = neck.top_down_layers[0]
    inner4 = lateral4(td_ema.get(1, torch.nn.Identity())(csp4(cat(
        [neck.upsample_layers[0](r5), p4], 1))))
    inner3 = neck.top_down_layers[1](cat([neck.upsample_layers[1](inner4), p3],
                                         1))
    inner3 = td_ema.get(0, torch.nn.Identity())(inner3)
    out4 = neck.bottom_up_layers[0](cat([neck.downsample_layers[0](inner3),
                                         inner4], 1))
    out4 = bu_ema.get(1, torch.nn.Identity())(out4)
    out5 = neck.bottom_up_layers[1](cat([neck.downsample_layers[1](out4), r5],
                                        1))
    out5 = bu_ema.get(2, torch.nn.Identity())(out5)
    return [inner3, out4, out5]


def test_plugins_follow_their_paths_csp_layers():
    """Independent reference: the plain neck with the same weights, run by
    hand with the plugins at the asked places."""
    neck = build(
        'PluginYOLOv5PAFPN',
        plugins=[
            ema('after_top_down', (True, True, False)),
            ema('after_bottom_up', (False, True, True))
        ],
        **V5S)
    plain = YOLOv5PAFPN(**V5S)
    randomize_norms_(neck)
    missing, unexpected = plain.load_state_dict(
        neck.state_dict(), strict=False)
    assert not missing and all('.ema_attn.' in k for k in unexpected)
    assert [n for n, m in neck.named_modules() if isinstance(m, EMA)] == [
        'top_down_layers.0.0.ema_attn', 'top_down_layers.1.ema_attn',
        'bottom_up_layers.0.ema_attn', 'bottom_up_layers.1.ema_attn'
    ]
    neck.eval()
    plain.eval()
    x = features([128, 256, 512])
    with torch.no_grad():
        outs = neck(x)
        expected = pafpn_by_hand(
            plain, x, {
                0: neck.top_down_layers[1].ema_attn,
                1: neck.top_down_layers[0][0].ema_attn
            }, {
                1: neck.bottom_up_layers[0].ema_attn,
                2: neck.bottom_up_layers[1].ema_attn
            })
        bare = plain(x)
    for ours, reference in zip(outs, expected):
        torch.testing.assert_close(ours, reference)
    # The hand-written neck is the upstream one when no EMA is applied.
    for ours, reference in zip(bare, pafpn_by_hand(plain, x, {}, {})):
        torch.testing.assert_close(ours, reference)
    assert not torch.allclose(outs[0], bare[0])


def test_without_plugins_is_the_parent_key_for_key():
    assert list(build('PluginYOLOv5PAFPN', **V5S).state_dict()) == list(
        YOLOv5PAFPN(**V5S).state_dict())
    v8 = dict(
        in_channels=[256, 512, 1024],
        out_channels=[256, 512, 1024],
        deepen_factor=0.33,
        widen_factor=0.5)
    neck = build(
        'PluginYOLOv8PAFPN',
        plugins=[ema('after_bottom_up', (False, True, True))],
        **v8)
    assert [k for k in neck.state_dict() if '.ema_attn.' not in k
            ] == list(YOLOv8PAFPN(**v8).state_dict())
    outs = neck(features([128, 256, 512]))
    assert [tuple(o.shape[1:]) for o in outs] == [(128, 16, 16),
                                                  (256, 8, 8), (512, 4, 4)]


@pytest.mark.parametrize('plugin,match', [
    (ema('after_top_down', (False, False, True)), r'levels \[2\].*top_down'),
    (ema('after_bottom_up', (True, False, False)), r'levels \[0\].*bottom_up'),
    (ema('after_lateral', (True, False, False)), 'positions'),
    (ema('after_top_down', (True, False)), 'one bool per stage'),
])
def test_levels_without_the_layer_raise_errors_that_name_the_fix(
        plugin, match):
    with pytest.raises(ValueError, match=match):
        build('PluginYOLOv5PAFPN', plugins=[plugin], **V5S)


def test_p2_neck_has_yolov5_p2_yaml_widths():
    """Layer widths of yolov5-p2.yaml's head at YOLOv5x's width (x1.25):
    Conv(512, 1, 1) on P5 ... C3(256) at P2, then the bottom-up path."""
    neck = YOLOv5P2PAFPN(**P2X)

    def io(layer):  # (in, out) channels of a conv or a C3
        if hasattr(layer, 'main_conv'):
            return (layer.main_conv.conv.in_channels,
                    layer.final_conv.conv.out_channels)
        return layer.conv.in_channels, layer.conv.out_channels

    assert io(neck.reduce_layers[3]) == (1280, 640)
    assert [io(m) for m in neck.top_down_layers[0]] == [(1280, 640),
                                                        (640, 320)]
    # P3 keeps its width below P3: the lateral conv is 320 -> 320.
    assert [io(m) for m in neck.top_down_layers[1]] == [(640, 320),
                                                        (320, 320)]
    assert io(neck.top_down_layers[2]) == (480, 320)  # 320 + P2's 160
    assert [io(m) for m in neck.downsample_layers] == [(320, 320),
                                                       (320, 320),
                                                       (640, 640)]
    assert [io(m) for m in neck.bottom_up_layers] == [(640, 320), (640, 640),
                                                      (1280, 1280)]
    # C3 depth: 3 x 1.33 -> 4 bottlenecks, as YOLOv5 rounds depth.
    assert len(neck.bottom_up_layers[0].blocks) == 4
    outs = neck(features([160, 320, 640, 1280], size=32))
    assert [tuple(o.shape[1:]) for o in outs] == [(320, 32, 32),
                                                  (320, 16, 16),
                                                  (640, 8, 8),
                                                  (1280, 4, 4)]


def test_p2_neck_takes_the_yaml_ema_places():
    """yolov5xP2EMA.yaml: EMA after the top-down C3 of P4, P3, P2 and the
    bottom-up C3 of P3, P4 (640, 320, 320, 320 and 640 channels)."""
    neck = build(
        'YOLOv5P2PAFPN',
        plugins=[
            ema('after_top_down', (True, True, True, False), factor=32),
            ema('after_bottom_up', (False, True, True, False), factor=32)
        ],
        **P2X)
    placed = {
        n: m.in_channels
        for n, m in neck.named_modules() if isinstance(m, EMA)
    }
    assert placed == {
        'top_down_layers.0.0.ema_attn': 640,
        'top_down_layers.1.0.ema_attn': 320,
        'top_down_layers.2.ema_attn': 320,
        'bottom_up_layers.0.ema_attn': 320,
        'bottom_up_layers.1.ema_attn': 640
    }


def test_p2_neck_needs_four_levels():
    with pytest.raises(ValueError, match='four in_channels'):
        YOLOv5P2PAFPN(in_channels=[256, 512, 1024], out_channels=[256, 512,
                                                                  1024])
