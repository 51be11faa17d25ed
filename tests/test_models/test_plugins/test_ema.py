# Copyright (c) mmema contributors. All rights reserved.
"""The EMA module's contract: published math, registry, errors, robustness."""
import subprocess
import sys
from typing import Dict

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_plugin_layer
from mmengine.registry import MODELS, DefaultScope

from mmema.models.plugins import EMA
from mmema.models.plugins.ema_paths import ReferenceEMA

OFFICIAL_KEYS = {
    'conv1x1.weight', 'conv1x1.bias', 'conv3x3.weight', 'conv3x3.bias',
    'gn.weight', 'gn.bias'
}


def reference_ema(x: torch.Tensor, p: Dict[str, torch.Tensor],
                  factor: int) -> torch.Tensor:
    """EMA written from the spec's math with explicit sums (no conv, no pool).

    Args:
        x (Tensor): (B, C, H, W).
        p (dict): The six parameters under their official names.
        factor (int): Number of groups G.

    Returns:
        Tensor: (B, C, H, W).
    """
    b, ch, h, w = x.shape
    c = ch // factor
    g = x.reshape(b * factor, c, h, w)
    w1 = p['conv1x1.weight'][:, :, 0, 0]  # (c_out, c_in)
    a_h = torch.einsum('oi,nih->noh', w1, g.mean(3)) + p['conv1x1.bias'][:, None]
    a_w = torch.einsum('oi,niw->now', w1, g.mean(2)) + p['conv1x1.bias'][:, None]
    y = g * torch.sigmoid(a_h)[..., None] * torch.sigmoid(a_w)[:, :, None, :]
    mu = y.mean((2, 3), keepdim=True)
    var = ((y - mu)**2).mean((2, 3), keepdim=True)
    x1 = ((y - mu) / torch.sqrt(var + 1e-5) * p['gn.weight'][:, None, None] +
          p['gn.bias'][:, None, None])
    padded = F.pad(g, (1, 1, 1, 1))
    x2 = p['conv3x3.bias'][:, None, None].expand(b * factor, c, h, w)
    for i in range(3):
        for j in range(3):
            x2 = x2 + torch.einsum('oi,nihw->nohw', p['conv3x3.weight'][:, :, i, j],
                                   padded[:, :, i:i + h, j:j + w])
    x11 = torch.softmax(x1.mean((2, 3)), dim=1)
    x21 = torch.softmax(x2.mean((2, 3)), dim=1)
    weights = (torch.einsum('nc,nchw->nhw', x11, x2) +
               torch.einsum('nc,nchw->nhw', x21, x1))
    return (g * torch.sigmoid(weights)[:, None]).reshape(b, ch, h, w)


def randomize_(module: nn.Module, gen: torch.Generator) -> None:
    """Give every parameter random values (the defaults hide bugs: gn.bias=0)."""
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=gen, dtype=param.dtype))


def assert_rel_close(actual: torch.Tensor, expected: torch.Tensor, rel: float,
                     what: str) -> None:
    err = (actual - expected).abs().max().item()
    # The floor covers gradients that are exactly zero in exact arithmetic
    # (e.g. conv1x1's at 1x1 input, where GroupNorm outputs gn.bias).
    scale = max(expected.abs().max().item(), 1e-2)
    assert err <= rel * scale, f'{what}: max error {err:.3e} > {rel:g} * {scale:.3e}'


@pytest.mark.parametrize('channels,factor,h,w', [
    (64, 32, 7, 9),
    (96, 8, 12, 5),
    (32, 4, 1, 1),
    (48, 3, 16, 16),
    (16, 16, 6, 11),
])
@pytest.mark.parametrize('training', [True, False])
def test_matches_spec_math_and_gradients_float64(channels, factor, h, w,
                                                  training):
    gen = torch.Generator().manual_seed(channels * 1000 + factor * 10 + h + w)
    module = EMA(channels, factor=factor).double().train(training)
    randomize_(module, gen)
    x = torch.randn(2, channels, h, w, generator=gen, dtype=torch.float64)
    x.requires_grad_(True)
    grad_out = torch.randn(2, channels, h, w, generator=gen, dtype=torch.float64)

    out = module(x)
    grads = torch.autograd.grad(out, [x, *module.parameters()], grad_out)

    params = {k: v.detach().clone().requires_grad_(True)
              for k, v in module.named_parameters()}
    x_ref = x.detach().clone().requires_grad_(True)
    ref = reference_ema(x_ref, params, factor)
    ref_grads = torch.autograd.grad(ref, [x_ref, *params.values()], grad_out)

    assert out.shape == x.shape
    assert_rel_close(out, ref, 1e-10, 'output')
    names = ['input'] + [k for k, _ in module.named_parameters()]
    for name, g, g_ref in zip(names, grads, ref_grads):
        assert_rel_close(g, g_ref, 1e-10, f'grad of {name}')


def test_state_dict_is_the_official_modules():
    gen = torch.Generator().manual_seed(0)
    module = EMA(64, factor=8).double()
    assert set(module.state_dict()) == OFFICIAL_KEYS
    published = ReferenceEMA(64, factor=8).double()
    assert set(published.state_dict()) == OFFICIAL_KEYS
    randomize_(published, gen)
    module.load_state_dict(published.state_dict(), strict=True)
    x = torch.randn(3, 64, 10, 13, generator=gen, dtype=torch.float64)
    assert_rel_close(module(x), published(x), 1e-10, 'output vs published')


@pytest.mark.parametrize('type_name', ['EMA', 'EfficientMultiScaleAttention', EMA])
@pytest.mark.parametrize('scope', ['mmdet', 'mmpretrain', 'mmengine'])
def test_build_plugin_layer_in_scope(type_name, scope):
    import mmdet.registry  # noqa: F401  (creates the scopes)
    import mmpretrain.registry  # noqa: F401
    with DefaultScope.overwrite_default_scope(scope):
        name, layer = build_plugin_layer(
            dict(type=type_name, factor=16), postfix=2, in_channels=64)
        built = MODELS.build(dict(type=type_name, in_channels=32, factor=8))
    assert name == 'ema_attn2'
    assert isinstance(layer, EMA) and layer.factor == 16
    assert layer.in_channels == 64
    assert isinstance(built, EMA) and built.factor == 8


def test_build_without_any_default_scope():
    code = ('from mmengine.registry import DefaultScope\n'
            'from mmcv.cnn import build_plugin_layer\n'
            'import mmema\n'
            'assert DefaultScope.get_current_instance() is None\n'
            "name, layer = build_plugin_layer(dict(type='EMA'), in_channels=64)\n"
            "print(name, type(layer).__name__, layer.factor)\n")
    result = subprocess.run([sys.executable, '-c', code],
                            capture_output=True, text=True, check=True)
    assert result.stdout.split() == ['ema_attn', 'EMA', '32']


@pytest.mark.parametrize('position', ['after_conv1', 'after_conv2', 'after_conv3'])
def test_mmdet_resnet50_hosts_ema(position):
    from mmdet.models.backbones import ResNet
    stages = (False, True, True, True)
    model = ResNet(
        depth=50,
        plugins=[dict(cfg=dict(type='EMA', factor=32), stages=stages,
                      position=position)])
    for stage_idx, layer_name in enumerate(model.res_layers):
        planes = 64 * 2**stage_idx
        width = 4 * planes if position == 'after_conv3' else planes
        for block in getattr(model, layer_name):
            ema = getattr(block, 'ema_attn', None)
            if not stages[stage_idx]:
                assert ema is None
                continue
            assert isinstance(ema, EMA)
            assert ema.in_channels == width
            assert ema.conv3x3.in_channels == width // 32
            assert getattr(block, f'{position}_plugin_names') == ['ema_attn']

    x = torch.randn(1, 3, 64, 64, requires_grad=True)
    outs = model(x)
    assert [o.shape[1] for o in outs] == [256, 512, 1024, 2048]
    sum(o.sum() for o in outs).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    stage3_ema = model.layer4[0].ema_attn
    assert all(p.grad is not None and p.grad.abs().sum() > 0
               for p in stage3_ema.parameters())


def test_mmdet_resnet_two_ema_plugins_with_postfixes():
    from mmdet.models.backbones import ResNet
    model = ResNet(
        depth=50,
        plugins=[
            dict(cfg=dict(type='EMA', factor=16, postfix=1),
                 stages=(True, True, True, True), position='after_conv2'),
            dict(cfg=dict(type='EfficientMultiScaleAttention', postfix=2),
                 stages=(True, True, True, True), position='after_conv3'),
        ])
    block = model.layer1[0]
    assert block.ema_attn1.factor == 16 and block.ema_attn1.in_channels == 64
    assert block.ema_attn2.factor == 32 and block.ema_attn2.in_channels == 256
    assert model(torch.randn(2, 3, 64, 64))[-1].shape == (2, 2048, 2, 2)


@pytest.mark.parametrize('kwargs,error,match', [
    (dict(in_channels=100, factor=32), ValueError,
     r'not divisible by factor \(32\).*\[1, 2, 4, 5, 10, 20, 25, 50, 100\]'),
    (dict(in_channels=16, factor=32), ValueError,
     r'in_channels \(16\) must be >= factor \(32\).*\[1, 2, 4, 8, 16\]'),
    (dict(in_channels=64, factor=0), ValueError, r'factor must be >= 1'),
    (dict(in_channels=64, factor=-4), ValueError, r'factor must be >= 1'),
    (dict(in_channels=64, factor=8.0), TypeError, r'factor must be an int'),
    (dict(in_channels=64, factor=True), TypeError, r'factor must be an int'),
    (dict(in_channels=64.0, factor=8), TypeError, r'in_channels must be an int'),
])
def test_bad_arguments_name_the_fix(kwargs, error, match):
    with pytest.raises(error, match=match):
        EMA(**kwargs)


def test_bad_argument_through_plugin_config():
    with pytest.raises(ValueError, match=r'in_channels \(100\) is not divisible'):
        build_plugin_layer(dict(type='EMA', factor=32), in_channels=100)


@pytest.mark.parametrize('shape,match', [
    ((2, 32, 8, 8), r'built with in_channels=64 but got an input with 32'),
    ((64, 8, 8), r'expects a 4D input \(B, C, H, W\), got shape \(64, 8, 8\)'),
    ((1, 64, 8, 8, 2), r'expects a 4D input'),
])
def test_bad_input_fails_in_forward_with_message(shape, match):
    with pytest.raises(ValueError, match=match):
        EMA(64, factor=8)(torch.randn(*shape))


@pytest.mark.parametrize('shape', [(1, 64, 7, 9), (1, 64, 1, 1), (3, 64, 9, 7),
                                   (2, 64, 1, 13)])
def test_odd_sizes_and_batch_one_match_published(shape):
    gen = torch.Generator().manual_seed(sum(shape))
    published = ReferenceEMA(64, factor=8).double()
    randomize_(published, gen)
    module = EMA(64, factor=8).double()
    module.load_state_dict(published.state_dict())
    x = torch.randn(*shape, generator=gen, dtype=torch.float64)
    assert_rel_close(module(x), published(x), 1e-10, f'output at {shape}')


def test_channels_last_input():
    gen = torch.Generator().manual_seed(1)
    module = EMA(64, factor=8)
    randomize_(module, gen)
    x = torch.randn(2, 64, 9, 7, generator=gen)
    x_cl = x.to(memory_format=torch.channels_last).requires_grad_(True)
    x_ref = x.clone().requires_grad_(True)
    out_cl, out = module(x_cl), module(x_ref)
    torch.testing.assert_close(out_cl, out, rtol=1e-5, atol=1e-6)
    out_cl.square().sum().backward()
    out.square().sum().backward()
    torch.testing.assert_close(x_cl.grad, x_ref.grad, rtol=1e-4, atol=1e-5)


def test_bfloat16_autocast_is_finite():
    gen = torch.Generator().manual_seed(2)
    module = EMA(128, factor=32)
    randomize_(module, gen)
    x = torch.randn(2, 128, 14, 10, generator=gen, requires_grad=True)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = module(x)
    assert out.shape == x.shape
    assert torch.isfinite(out.float()).all()
    out.float().square().mean().backward()
    assert torch.isfinite(x.grad).all()
    for name, param in module.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name


def test_deterministic_algorithms_do_not_raise():
    module = EMA(64, factor=8)
    assert not any(isinstance(m, nn.AdaptiveAvgPool2d) for m in module.modules())
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        x = torch.randn(2, 64, 9, 11, requires_grad=True)
        first = module(x)
        first.sum().backward()
        grad_first = x.grad.clone()
        x.grad = None
        second = module(x)
        second.sum().backward()
    finally:
        torch.use_deterministic_algorithms(previous)
    assert torch.equal(first, second)
    assert torch.equal(grad_first, x.grad)


def test_jit_trace_follows_new_sizes():
    gen = torch.Generator().manual_seed(3)
    module = EMA(64, factor=8).eval()
    randomize_(module, gen)
    traced = torch.jit.trace(module, torch.randn(2, 64, 8, 8, generator=gen))
    for shape in [(2, 64, 8, 8), (1, 64, 5, 12)]:
        x = torch.randn(*shape, generator=gen)
        torch.testing.assert_close(traced(x), module(x), rtol=1e-5, atol=1e-6)


def test_onnx_export_with_dynamic_batch_height_width(tmp_path):
    ort = pytest.importorskip('onnxruntime')
    gen = torch.Generator().manual_seed(4)
    module = EMA(64, factor=8).eval()
    randomize_(module, gen)
    path = tmp_path / 'ema.onnx'
    batch, height, width = (torch.export.Dim(n, min=2, max=512)
                            for n in ('batch', 'height', 'width'))
    torch.onnx.export(
        module, (torch.randn(2, 64, 6, 10, generator=gen), ),
        str(path),
        input_names=['x'],
        output_names=['y'],
        dynamic_shapes={'x': {0: batch, 2: height, 3: width}})
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    for shape in [(3, 64, 11, 7), (2, 64, 16, 20)]:
        x = torch.randn(*shape, generator=gen)
        (y, ) = session.run(None, {'x': x.numpy()})
        torch.testing.assert_close(
            torch.from_numpy(y), module(x).detach(), rtol=1e-4, atol=1e-5)


def test_torch_compile_matches_eager_on_two_sizes():
    gen = torch.Generator().manual_seed(5)
    module = EMA(32, factor=4)
    randomize_(module, gen)
    compiled = torch.compile(module)
    for shape in [(2, 32, 8, 8), (1, 32, 6, 10)]:
        x = torch.randn(*shape, generator=gen)
        x_c = x.clone().requires_grad_(True)
        x_e = x.clone().requires_grad_(True)
        out_c, out_e = compiled(x_c), module(x_e)
        torch.testing.assert_close(out_c, out_e, rtol=1e-4, atol=1e-5)
        grad_out = torch.randn(*shape, generator=gen)
        (g_c, ) = torch.autograd.grad(out_c, x_c, grad_out)
        (g_e, ) = torch.autograd.grad(out_e, x_e, grad_out)
        torch.testing.assert_close(g_c, g_e, rtol=1e-4, atol=1e-5)
