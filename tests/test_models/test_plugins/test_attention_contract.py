# Copyright (c) mmema contributors. All rights reserved.
"""One contract for the six attentions of the paper's comparison.

SE, CA, CBAM, ECA, SA and NAM each pass the same tests (shapes, gradients,
registry builds from any scope, bad arguments, deterministic backward, ONNX
export) and a numeric test against a straightforward formula of its paper,
written here independently of the module (float64).
"""
import math
from typing import Callable, Dict, Tuple, Type

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import build_plugin_layer
from mmengine.registry import MODELS, DefaultScope

from mmema.models.plugins import CA, CBAM, ECA, NAM, SA, SE
from mmema.models.plugins.eca import eca_kernel_size

PLUGINS: Dict[str, Type[nn.Module]] = {
    'SE': SE,
    'CA': CA,
    'CBAM': CBAM,
    'ECA': ECA,
    'SA': SA,
    'NAM': NAM,
}
ALIASES = {
    'SqueezeExcitation': SE,
    'CoordAttention': CA,
    'ConvBlockAttention': CBAM,
    'EfficientChannelAttention': ECA,
    'ShuffleAttention': SA,
    'NormalizationAttention': NAM,
}
NAMES = list(PLUGINS)
# 128 channels satisfy every default (SA: 2 * 64 groups; SE, CBAM: 16).
CHANNELS = 128


def build(name: str, **kwargs) -> nn.Module:
    """Build plugin ``name`` through the registry, as configs do."""
    return MODELS.build(dict(type=name, in_channels=CHANNELS, **kwargs))


def randomize_(module: nn.Module, seed: int = 0) -> nn.Module:
    """Give every parameter and norm statistic a random value.

    Default initializations hide paths (SA's zero weights block gradients to
    its GroupNorm; BN's unit weights and zero biases equal no affine).
    """
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=gen) * 0.5 + 0.3)
        for sub in module.modules():
            if isinstance(sub, nn.modules.batchnorm._BatchNorm):
                sub.running_mean.copy_(torch.randn(sub.num_features,
                                                   generator=gen))
                sub.running_var.copy_(torch.rand(sub.num_features,
                                                 generator=gen) + 0.5)
    return module


# --------------------------------------------------------------------------
# The shared contract.
# --------------------------------------------------------------------------


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('shape', [(1, CHANNELS, 1, 1), (1, CHANNELS, 7, 5),
                                   (2, CHANNELS, 8, 8), (3, CHANNELS, 1, 9)])
def test_output_keeps_input_shape_in_eval(name: str, shape: Tuple) -> None:
    module = randomize_(build(name)).eval()
    x = torch.randn(shape)
    with torch.no_grad():
        out = module(x)
    assert out.shape == x.shape
    assert torch.isfinite(out).all()
    assert not torch.equal(out, x)


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('shape', [(2, CHANNELS, 7, 5), (2, CHANNELS, 1, 3)])
def test_output_keeps_input_shape_in_train(name: str, shape: Tuple) -> None:
    module = build(name).train()
    x = torch.randn(shape)
    assert module(x).shape == x.shape


@pytest.mark.parametrize('name', NAMES)
def test_gradients_reach_every_parameter(name: str) -> None:
    module = randomize_(build(name)).train()
    x = torch.randn(2, CHANNELS, 7, 5, requires_grad=True)
    (module(x) * torch.randn(2, CHANNELS, 7, 5)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for param_name, param in module.named_parameters():
        assert param.grad is not None, f'{name}.{param_name} got no gradient'
        assert torch.isfinite(param.grad).all()
        assert param.grad.abs().sum() > 0, f'{name}.{param_name}: zero grad'


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('scope', [None, 'mmdet', 'mmpretrain'])
def test_build_plugin_layer_from_every_scope(name: str, scope: str) -> None:
    with DefaultScope.overwrite_default_scope(scope):
        with MODELS.switch_scope_and_registry(None) as registry:
            if scope is not None:
                assert registry.scope == scope
            assert registry.get(name) is PLUGINS[name]  # not shadowed
        layer_name, layer = build_plugin_layer(
            dict(type=name), postfix='_1', in_channels=CHANNELS)
    assert type(layer) is PLUGINS[name]
    assert layer_name == PLUGINS[name]._abbr_ + '_1'
    assert layer_name.endswith('attn_1')


@pytest.mark.parametrize('alias', list(ALIASES))
def test_long_name_alias_builds_the_same_class(alias: str) -> None:
    assert type(MODELS.build(dict(type=alias,
                                  in_channels=CHANNELS))) is ALIASES[alias]


@pytest.mark.parametrize('name', NAMES)
def test_every_attention_fits_mmdet_resnet50_after_conv3(name: str) -> None:
    from mmdet.models.backbones import ResNet
    plugin = dict(cfg=dict(type=name), stages=(True, ) * 4,
                  position='after_conv3')
    backbone = ResNet(depth=50, plugins=[plugin], out_indices=(3, ))
    backbone.eval()  # mmdet's ResNet.train returns None
    attn_name = PLUGINS[name]._abbr_
    blocks = [m for m in backbone.modules() if hasattr(m, attn_name)]
    assert len(blocks) == 16
    assert ({getattr(b, attn_name).in_channels for b in blocks} ==
            {256, 512, 1024, 2048})
    with torch.no_grad():
        (out, ) = backbone(torch.randn(1, 3, 64, 48))
    assert out.shape == (1, 2048, 2, 2)


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('in_channels', [True, 64.0, '64'])
def test_non_int_in_channels_raises_type_error(name: str,
                                               in_channels) -> None:
    with pytest.raises(TypeError, match='in_channels must be an int'):
        PLUGINS[name](in_channels)


@pytest.mark.parametrize('name, kwargs, match', [
    ('SE', dict(in_channels=8), r'reduction <= in_channels'),
    ('SE', dict(in_channels=64, reduction=0), r'reduction must be >= 1'),
    ('CA', dict(in_channels=0), r'in_channels must be >= 1'),
    ('CA', dict(in_channels=64, reduction=-2), r'reduction must be >= 1'),
    ('CA', dict(in_channels=64, min_mid_channels=0), r'min_mid_channels'),
    ('CBAM', dict(in_channels=8), r'reduction <= in_channels'),
    ('CBAM', dict(in_channels=64, spatial_kernel=6), r'must be odd'),
    ('ECA', dict(in_channels=64, kernel_size=4), r'positive odd int'),
    ('ECA', dict(in_channels=64, gamma=0), r'gamma must be >= 1'),
    ('ECA', dict(in_channels=0), r'in_channels must be >= 1'),
    ('SA', dict(in_channels=96), r'divisible by 2 \* groups \(128\).*\[1, '
     r'2, 3, 4, 6, 8, 12, 16, 24, 48\]'),
    ('SA', dict(in_channels=64, groups=0), r'groups must be >= 1'),
    ('NAM', dict(in_channels=0), r'in_channels must be >= 1'),
    ('NAM', dict(in_channels=64, norm_cfg=dict(type='BN', affine=False)),
     r'affine'),
])
def test_bad_arguments_raise_value_error_naming_the_fix(
        name: str, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PLUGINS[name](**kwargs)


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('shape,match', [
    ((2, CHANNELS // 2, 4, 4),
     rf'in_channels={CHANNELS} but got an input with {CHANNELS // 2} channels'),
    ((2, CHANNELS, 4), r'expects a 4D input \(B, C, H, W\)'),
])
def test_wrong_input_raises_value_error(name: str, shape: Tuple,
                                        match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build(name)(torch.randn(shape))


@pytest.fixture
def deterministic_algorithms():
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(previous)


@pytest.mark.parametrize('name', NAMES)
def test_backward_is_deterministic(name: str,
                                   deterministic_algorithms) -> None:

    def input_and_param_grads() -> Tuple[torch.Tensor, ...]:
        module = randomize_(build(name)).train()
        x = torch.randn(2, CHANNELS, 6, 5,
                        generator=torch.Generator().manual_seed(1),
                        requires_grad=True)
        module(x).square().sum().backward()
        return (x.grad, ) + tuple(p.grad for p in module.parameters())

    for first, second in zip(input_and_param_grads(), input_and_param_grads()):
        assert torch.equal(first, second)


@pytest.mark.parametrize('name', NAMES)
def test_onnx_export_with_dynamic_batch_height_width(name: str,
                                                     tmp_path) -> None:
    onnxruntime = pytest.importorskip('onnxruntime')
    module = randomize_(build(name)).eval()
    path = str(tmp_path / f'{name}.onnx')
    batch, height, width = (torch.export.Dim(n, min=2, max=512)
                            for n in ('batch', 'height', 'width'))
    torch.onnx.export(
        module, (torch.randn(2, CHANNELS, 6, 10), ),
        path,
        input_names=['x'],
        output_names=['y'],
        dynamic_shapes={'x': {0: batch, 2: height, 3: width}})
    session = onnxruntime.InferenceSession(
        path, providers=['CPUExecutionProvider'])
    for shape in [(3, CHANNELS, 11, 7), (2, CHANNELS, 16, 20)]:
        x = torch.randn(shape)
        (onnx_out, ) = session.run(['y'], {'x': x.numpy()})
        with torch.no_grad():
            expected = module(x)
        torch.testing.assert_close(
            torch.from_numpy(onnx_out), expected, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------
# Each module against its paper's formula (float64, written independently).
# --------------------------------------------------------------------------


def sigmoid(t: torch.Tensor) -> torch.Tensor:
    return 1 / (1 + torch.exp(-t))


def batch_norm(t: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    """BN of (B, C, H, W) with batch statistics in training, running ones
    otherwise."""
    if bn.training:
        mean = t.mean((0, 2, 3), keepdim=True)
        var = ((t - mean)**2).mean((0, 2, 3), keepdim=True)
    else:
        mean = bn.running_mean.view(1, -1, 1, 1)
        var = bn.running_var.view(1, -1, 1, 1)
    normalized = (t - mean) / torch.sqrt(var + bn.eps)
    return normalized * bn.weight.view(1, -1, 1, 1) + bn.bias.view(1, -1, 1, 1)


def linear_1x1(conv: nn.Conv2d, v: torch.Tensor) -> torch.Tensor:
    """A 1x1 conv applied to vectors v of shape (..., C_in)."""
    return v @ conv.weight[:, :, 0, 0].T + conv.bias


def se_reference(m: SE, x: torch.Tensor) -> torch.Tensor:
    squeezed = x.sum((2, 3)) / (x.shape[2] * x.shape[3])  # (B, C)
    hidden = torch.clamp(linear_1x1(m.fc1, squeezed), min=0)
    return x * sigmoid(linear_1x1(m.fc2, hidden))[:, :, None, None]


def ca_reference(m: CA, x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    pooled = torch.cat([x.mean(3), x.mean(2)], dim=2)  # (B, C, H + W)
    y = torch.einsum('mc,bcp->bmp', m.conv1.weight[:, :, 0, 0], pooled)
    y = batch_norm((y + m.conv1.bias[:, None])[..., None], m.bn1)[..., 0]
    y = y * torch.clamp(y + 3, 0, 6) / 6  # h-swish
    a_h = torch.einsum('cm,bmp->bcp', m.conv_h.weight[:, :, 0, 0], y[..., :h])
    a_w = torch.einsum('cm,bmp->bcp', m.conv_w.weight[:, :, 0, 0], y[..., h:])
    a_h = sigmoid(a_h + m.conv_h.bias[:, None])  # (B, C, H)
    a_w = sigmoid(a_w + m.conv_w.bias[:, None])  # (B, C, W)
    return x * a_h[:, :, :, None] * a_w[:, :, None, :]


def cbam_reference(m: CBAM, x: torch.Tensor) -> torch.Tensor:
    fc1, fc2 = m.channel_mlp[0], m.channel_mlp[2]

    def mlp(v: torch.Tensor) -> torch.Tensor:
        return linear_1x1(fc2, torch.clamp(linear_1x1(fc1, v), min=0))

    flat = x.flatten(2)
    channel = sigmoid(mlp(flat.mean(2)) + mlp(flat.max(2).values))
    x = x * channel[:, :, None, None]
    pooled = torch.stack([x.max(1).values, x.mean(1)], dim=1)  # (B, 2, H, W)
    k = m.spatial_conv.kernel_size[0]
    h, w = x.shape[2:]
    padded = F.pad(pooled, [k // 2] * 4)
    logits = torch.zeros_like(pooled[:, :1])
    for i in range(k):
        for j in range(k):
            tap = m.spatial_conv.weight[0, :, i, j].view(1, 2, 1, 1)
            logits += (tap * padded[:, :, i:i + h, j:j + w]).sum(
                1, keepdim=True)
    return x * sigmoid(batch_norm(logits, m.spatial_norm))


def eca_reference(m: ECA, x: torch.Tensor) -> torch.Tensor:
    pooled = x.mean((2, 3))  # (B, C)
    c, k = x.shape[1], m.kernel_size
    kernel = m.conv.weight[0, 0]
    logits = torch.zeros_like(pooled)
    for channel in range(c):
        for tap in range(k):
            neighbour = channel + tap - (k - 1) // 2
            if 0 <= neighbour < c:
                logits[:, channel] += kernel[tap] * pooled[:, neighbour]
    return x * sigmoid(logits)[:, :, None, None]


def sa_reference(m: SA, x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    half = c // (2 * m.groups)
    vec = lambda p: p.view(1, half, 1, 1)  # noqa: E731
    outs = []
    for group in range(m.groups):
        chunk = x[:, group * 2 * half:(group + 1) * 2 * half]
        x0, x1 = chunk[:, :half], chunk[:, half:]
        channel = sigmoid(vec(m.cweight) * x0.mean((2, 3), keepdim=True) +
                          vec(m.cbias))
        mean = x1.mean((2, 3), keepdim=True)
        var = ((x1 - mean)**2).mean((2, 3), keepdim=True)
        gn = ((x1 - mean) / torch.sqrt(var + m.gn.eps) * vec(m.gn.weight) +
              vec(m.gn.bias))
        spatial = sigmoid(vec(m.sweight) * gn + vec(m.sbias))
        outs += [x0 * channel, x1 * spatial]
    unshuffled = torch.cat(outs, dim=1)
    shuffled = torch.empty_like(unshuffled)
    for index in range(c):  # shuffle with 2 groups: [a0 b0 a1 b1 ...]
        shuffled[:, 2 * (index % (c // 2)) + index // (c // 2)] = \
            unshuffled[:, index]
    return shuffled


def nam_reference(m: NAM, x: torch.Tensor) -> torch.Tensor:
    scales = m.bn.weight.detach().abs()
    weights = (scales / scales.sum()).view(1, -1, 1, 1)
    return x * sigmoid(weights * batch_norm(x, m.bn))


REFERENCES: Dict[str, Tuple[Callable, dict]] = {
    'SE': (se_reference, dict(in_channels=32, reduction=4)),
    'CA': (ca_reference, dict(in_channels=32, reduction=4,
                              min_mid_channels=2)),
    'CBAM': (cbam_reference, dict(in_channels=32, reduction=4)),
    'ECA': (eca_reference, dict(in_channels=32, kernel_size=5)),
    'SA': (sa_reference, dict(in_channels=32, groups=4)),
    'NAM': (nam_reference, dict(in_channels=32)),
}


@pytest.mark.parametrize('name', NAMES)
@pytest.mark.parametrize('training', [True, False])
def test_matches_paper_formula(name: str, training: bool) -> None:
    reference, kwargs = REFERENCES[name]
    module = randomize_(MODELS.build(dict(type=name, **kwargs)), seed=3)
    module.double().train(training)
    x = torch.randn(2, 32, 5, 6, dtype=torch.float64, requires_grad=True)
    out = module(x)
    grad_out = torch.randn_like(out)
    params = list(module.parameters())
    grads = torch.autograd.grad(out, [x] + params, grad_out)
    expected = reference(module, x)
    expected_grads = torch.autograd.grad(expected, [x] + params, grad_out)
    torch.testing.assert_close(out, expected)
    for grad, expected_grad in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected_grad)


@pytest.mark.parametrize('channels, kernel_size', [(1, 1), (16, 3), (64, 3),
                                                   (128, 5), (256, 5),
                                                   (512, 5), (1024, 5),
                                                   (2048, 7)])
def test_eca_adaptive_kernel_size(channels: int, kernel_size: int) -> None:
    # |log2(C) / 2 + 1 / 2|, truncated, then the next odd number.
    assert eca_kernel_size(channels) == kernel_size
    assert ECA(channels).conv.kernel_size == (kernel_size, )
    assert kernel_size == (lambda t: t if t % 2 else t + 1)(
        int((math.log2(channels) + 1) / 2))


@pytest.mark.parametrize('name, in_channels, params', [
    # Count of each module's parameters, by its paper's formula.
    ('SE', 256, 2 * 256 * 16 + 16 + 256),
    ('CA', 256, 256 * 8 + 8 + 2 * 8 + 2 * (8 * 256 + 256)),
    ('CA', 2048, 2048 * 64 + 64 + 2 * 64 + 2 * (64 * 2048 + 2048)),
    ('CBAM', 256, 2 * 256 * 16 + 16 + 256 + 2 * 49 + 2),
    ('ECA', 2048, 7),
    ('SA', 256, 6 * 2),
    ('NAM', 256, 2 * 256),
])
def test_parameter_count_follows_the_paper(name: str, in_channels: int,
                                           params: int) -> None:
    module = PLUGINS[name](in_channels)
    assert sum(p.numel() for p in module.parameters()) == params


def test_sa_starts_as_constant_gate() -> None:
    # Authors' init: weights 0, biases 1, so every element is x * sigmoid(1).
    x = torch.randn(2, CHANNELS, 3, 4)
    expected = x * sigmoid(torch.tensor(1.0))
    out = SA(CHANNELS)(x)
    torch.testing.assert_close(out.sort(1).values, expected.sort(1).values)
