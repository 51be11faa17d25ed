# Copyright (c) mmema contributors. All rights reserved.
"""The fast EMA: its identities, its parity with the published EMA (outputs
and every gradient), its compiled CPU kernels and their threads, its
composite path, and its Triton kernels under Triton's interpreter."""
import os
import subprocess
import sys
import textwrap
from typing import Dict, Tuple

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmema.models.plugins import EMA
from mmema.models.plugins.ema_paths import ReferenceEMA, cpu, dispatch
from mmema.models.plugins.ema_paths.composite import (ema_logits_composite,
                                                      single_output_conv3x3)
from mmema.models.plugins.ema_paths.cpu import FusedCPUEMAFunction
from mmema.models.plugins.ema_paths.identities import (conv3x3_channel_means,
                                                       corner_index,
                                                       cross_spatial_kernel,
                                                       edge_selector,
                                                       plane_corners,
                                                       window_operator,
                                                       window_sums)

PLANE_SIZES = [(1, 1), (1, 6), (5, 1), (7, 9), (8, 12), (11, 10), (17, 19),
               (33, 40)]


def randomize_(module: nn.Module, seed: int) -> nn.Module:
    """Random parameters: the defaults (gn.bias = 0, ...) hide paths."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.copy_(torch.randn(param.shape, generator=gen) * 0.5)
    return module


def assert_rel_close(actual: torch.Tensor, expected: torch.Tensor, rel: float,
                     floor: float, what: str) -> None:
    """``max|actual - expected| <= rel * max(max|expected|, floor)``.

    The floor covers gradients that are exactly zero in real arithmetic
    (e.g. conv1x1's on 1x1 planes, where GroupNorm outputs gn.bias) and
    leave only rounding noise on both sides.
    """
    err = (actual.double() - expected).abs().max().item()
    scale = max(expected.abs().max().item(), floor)
    assert err <= rel * scale, (
        f'{what}: max error {err:.3e} > {rel:g} * {scale:.3e}')


def published_run(x: torch.Tensor, grad: torch.Tensor, state: dict,
                  factor: int) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """Output and gradients (input under 'x') of the published EMA, in
    float64."""
    reference = ReferenceEMA(x.shape[1], factor).double()
    reference.load_state_dict(state)
    x = x.detach().double().requires_grad_(True)
    out = reference(x)
    names = ['x'] + [name for name, _ in reference.named_parameters()]
    grads = torch.autograd.grad(out, [x, *reference.parameters()],
                                grad.double())
    return out.detach(), dict(zip(names, grads))


def check_parity(shape: Tuple[int, ...], factor: int, dtype: torch.dtype,
                 rel: float, training: bool = True,
                 channels_last: bool = False, seed: int = 0) -> None:
    """mmema's EMA in ``dtype`` against the published EMA in float64."""
    module = randomize_(EMA(shape[1], factor), seed).to(dtype).train(training)
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(shape, generator=gen, dtype=torch.float64)
    grad = torch.randn(shape, generator=gen, dtype=torch.float64)
    expected, expected_grads = published_run(x, grad, module.state_dict(),
                                             factor)
    x_in = x.to(dtype)
    if channels_last:
        x_in = x_in.contiguous(memory_format=torch.channels_last)
    x_in.requires_grad_(True)
    out = module(x_in)
    assert out.shape == x.shape and out.dtype == dtype
    if channels_last:
        assert out.is_contiguous(memory_format=torch.channels_last)
    grads = torch.autograd.grad(out, [x_in, *module.parameters()],
                                grad.to(dtype))
    names = ['x'] + [name for name, _ in module.named_parameters()]
    largest = max(g.abs().max().item() for g in expected_grads.values())
    # On 1x1 planes GroupNorm's variance is 0, its rstd 1 / sqrt(eps) ~ 316
    # amplifies rounding in gradients that are exactly zero: compare those
    # with the largest gradient (the float32 published code is further off).
    floor = largest if shape[2] * shape[3] == 1 else 1e-2 * largest
    assert_rel_close(out, expected, rel, 0.0, f'output at {shape}')
    for name, actual in zip(names, grads):
        assert_rel_close(actual, expected_grads[name], rel, floor,
                         f'grad of {name} at {shape}')


# --------------------------------------------------------------------------
# Exact identities.
# --------------------------------------------------------------------------


def test_groupnorm_mean_is_its_bias_so_x11_ignores_the_input():
    gen = torch.Generator().manual_seed(0)
    gn = randomize_(nn.GroupNorm(8, 8), 1).double()
    z = torch.randn(5, 8, 6, 7, generator=gen, dtype=torch.float64) * 3 + 2
    torch.testing.assert_close(
        gn(z).mean((2, 3)), gn.bias.expand(5, 8).detach(), rtol=0,
        atol=1e-12)


@pytest.mark.parametrize('h,w', PLANE_SIZES)
def test_window_sums_give_conv3x3_channel_means(h, w):
    gen = torch.Generator().manual_seed(h * 100 + w)
    g = torch.randn(3, 4, h, w, generator=gen, dtype=torch.float64)
    conv = randomize_(nn.Conv2d(4, 4, 3, padding=1), h + w).double()
    expected = conv(g).mean((2, 3))
    rows, cols = g.sum(3), g.sum(2)
    from_selector = window_sums(rows, cols, plane_corners(g), edge_selector(g))
    corners = g.view(3, 4, -1)[..., corner_index(h, w, g)]
    from_operator = (torch.cat([rows, cols, corners], -1)
                     @ window_operator(h, w, g)).view(3, 4, 3, 3)
    for window in (from_selector, from_operator):
        torch.testing.assert_close(
            conv3x3_channel_means(window, conv.weight, conv.bias, h * w),
            expected, rtol=0, atol=1e-12)


def test_x11_through_conv3x3_is_one_single_output_conv():
    gen = torch.Generator().manual_seed(3)
    g = torch.randn(2, 6, 9, 5, generator=gen, dtype=torch.float64)
    conv = randomize_(nn.Conv2d(6, 6, 3, padding=1), 4).double()
    gn_bias = torch.randn(6, generator=gen, dtype=torch.float64)
    x11, kernel, bias = cross_spatial_kernel(conv.weight, conv.bias, gn_bias)
    torch.testing.assert_close(x11, torch.softmax(gn_bias, 0))
    expected = torch.einsum('o,nohw->nhw', x11, conv(g)).unsqueeze(1)
    torch.testing.assert_close(F.conv2d(g, kernel, bias, padding=1),
                               expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize('h,w', PLANE_SIZES)
def test_single_output_conv3x3_equals_its_definition(h, w):
    gen = torch.Generator().manual_seed(h * 10 + w)
    g = torch.randn(3, 5, h, w, generator=gen, dtype=torch.float64)
    kernel = torch.randn(1, 5, 3, 3, generator=gen, dtype=torch.float64)
    bias = torch.randn(1, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(
        single_output_conv3x3(g, kernel, bias),
        F.conv2d(g, kernel, bias, padding=1))


# --------------------------------------------------------------------------
# Parity with the published EMA: outputs and all gradients.
# --------------------------------------------------------------------------

PARITY_CASES = [
    ((1, 64, 1, 1), 8),  # 1x1, batch 1
    ((2, 64, 7, 9), 8),  # non-square, small plane
    ((3, 48, 5, 1), 3),  # a column
    ((1, 32, 1, 6), 4),  # a row
    ((2, 32, 8, 12), 4),  # shift operators as GEMMs
    ((1, 24, 11, 10), 3),  # border GEMM, shifted adds
    ((2, 64, 17, 19), 8),  # large plane: reductions and batched products
    ((1, 16, 33, 40), 2),
    ((1, 16, 70, 3), 2),  # narrower than a vector, over 64 rows
    ((1, 16, 66, 27), 2),  # rows of 4 float vectors, the last masked
    ((1, 32, 5, 13), 4),  # rows of 4 double vectors, the last masked
    ((2, 256, 6, 5), 32),  # the default factor
]


@pytest.mark.parametrize('shape,factor', PARITY_CASES)
@pytest.mark.parametrize('training', [True, False])
def test_float64_matches_published_to_1e10(shape, factor, training):
    check_parity(shape, factor, torch.float64, 1e-10, training)


@pytest.mark.parametrize('shape,factor', PARITY_CASES)
@pytest.mark.parametrize('training', [True, False])
def test_float32_matches_published_float64_to_1e5(shape, factor, training):
    check_parity(shape, factor, torch.float32, 1e-5, training)


@pytest.mark.parametrize('shape,factor', PARITY_CASES)
def test_composite_matches_published_to_1e10(shape, factor, monkeypatch):
    monkeypatch.setattr(torch.compiler, 'is_compiling', lambda: True)
    check_parity(shape, factor, torch.float64, 1e-10)


@pytest.mark.parametrize('shape,factor', PARITY_CASES)
@pytest.mark.parametrize('dtype,rel', [(torch.float64, 1e-10),
                                       (torch.float32, 1e-5)])
def test_no_grad_output_matches_published(shape, factor, dtype, rel):
    """Without autograd the CPU inference kernel runs (no logits kept)."""
    module = randomize_(EMA(shape[1], factor), 23).to(dtype)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(24),
                    dtype=torch.float64)
    expected, _ = published_run(x, torch.zeros_like(x), module.state_dict(),
                                factor)
    with torch.no_grad():
        out = module(x.to(dtype))
        out_last = module(
            x.to(dtype).contiguous(memory_format=torch.channels_last))
    assert out.dtype == dtype
    assert_rel_close(out, expected, rel, 0.0, f'output at {shape}')
    assert out_last.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out_last, out, rtol=0, atol=0)


@pytest.fixture
def two_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize('channels_last', [False, True])
@pytest.mark.parametrize('shape,factor', [((3, 64, 9, 7), 8),
                                          ((2, 32, 18, 20), 4)])
def test_two_threads_match_published(two_threads, shape, factor,
                                     channels_last):
    check_parity(shape, factor, torch.float64, 1e-10,
                 channels_last=channels_last)
    check_parity(shape, factor, torch.float32, 1e-5,
                 channels_last=channels_last)
    assert torch.get_num_threads() == 2


def outputs_and_grads(module: nn.Module, x: torch.Tensor,
                      threads: int) -> list:
    """Output and all gradients of ``module`` on ``x`` with ``threads``
    intra-op threads."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x = x.clone().requires_grad_(True)
        out = module(x)
        grads = torch.autograd.grad(out.square().sum(),
                                    [x, *module.parameters()])
    finally:
        torch.set_num_threads(previous)
    return [out.detach(), *grads]


def test_results_do_not_depend_on_the_thread_count():
    # Parameter gradients are summed from per-group shares in a fixed
    # order, so 1 and 2 threads give the same bits.
    module = randomize_(EMA(64, 8), 18)
    x = torch.randn(5, 64, 11, 9)
    for one, two in zip(outputs_and_grads(module, x, 1),
                        outputs_and_grads(module, x, 2)):
        torch.testing.assert_close(one, two, rtol=0, atol=0)


BASELINE_CHECK = textwrap.dedent('''
    import torch
    from mmema.models.plugins.ema_paths.cpu import cpu_ops_available
    assert cpu_ops_available()
    print(torch.ops.mmema.ema_cpu_isa())
''')


def test_baseline_kernels_match_published():
    """MMEMA_CPU_BASELINE=1 runs the kernels built for the baseline
    instruction set, which machines without AVX2 + FMA take."""
    env = dict(os.environ, MMEMA_CPU_BASELINE='1')
    code = BASELINE_CHECK + textwrap.dedent('''
        import sys
        sys.path.insert(0, {tests!r})
        from test_ema_fast import check_parity
        for shape, factor in [((2, 64, 7, 9), 8), ((1, 32, 1, 6), 4),
                              ((2, 16, 12, 5), 2)]:
            check_parity(shape, factor, torch.float64, 1e-10)
            check_parity(shape, factor, torch.float32, 1e-5)
        print('baseline ok')
    ''').format(tests=os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run([sys.executable, '-c', code], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == ['baseline', 'baseline', 'ok']


def test_parameter_gradients_without_an_input_gradient():
    module = randomize_(EMA(32, 4), 19).double()
    x = torch.randn(2, 32, 7, 6, dtype=torch.float64)
    grad = torch.randn_like(x)
    _, expected = published_run(x, grad, module.state_dict(), 4)
    out = module(x)
    grads = torch.autograd.grad(out, list(module.parameters()), grad)
    for (name, _), actual in zip(module.named_parameters(), grads):
        assert_rel_close(actual, expected[name], 1e-10, 0.0, name)


def test_without_compiled_kernels_the_composite_path_runs(monkeypatch):
    module = randomize_(EMA(48, 4), 20).double()
    x = torch.randn(2, 48, 6, 5, dtype=torch.float64)
    fused = outputs_and_grads(module, x, 1)
    monkeypatch.setattr(dispatch, 'cpu_ops_available', lambda: False)
    assert dispatch.fused_ema(x, module.ema_params(), 4) is None
    for got, want in zip(outputs_and_grads(module, x, 1), fused):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_missing_kernels_warn_and_say_how_to_build(monkeypatch):
    def fail(name):
        raise ImportError(f'No module named {name!r}')

    monkeypatch.setattr(cpu.importlib, 'import_module', fail)
    with pytest.warns(UserWarning, match='build_ext --inplace'):
        assert cpu.cpu_ops_available.__wrapped__() is False


def kernel_args(x: torch.Tensor, factor: int) -> list:
    """Arguments of ``torch.ops.mmema.ema_forward`` for a random EMA."""
    params = randomize_(EMA(x.shape[1], factor), 21).ema_params()
    weights = [p.detach().to(x.dtype).contiguous() for p in params[:6]]
    return [x, factor, *weights, 1e-5]


@pytest.mark.parametrize('change,message', [
    (lambda a: a.__setitem__(0, a[0].transpose(2, 3)), 'contiguous'),
    (lambda a: a.__setitem__(0, a[0].long()), 'float32 or float64'),
    (lambda a: a.__setitem__(0, a[0][0]), r'\(B, C, H, W\)'),
    (lambda a: a.__setitem__(1, 5), 'not divisible by factor 5'),
    (lambda a: a.__setitem__(7, a[7][:-1]), 'gn.bias must be'),
    (lambda a: a.__setitem__(2, a[2].double()), 'conv1x1.weight must be'),
])
def test_kernel_ops_reject_bad_arguments(change, message):
    assert cpu.cpu_ops_available()
    args = kernel_args(torch.randn(2, 16, 5, 6), 4)
    change(args)
    with pytest.raises(RuntimeError, match=message):
        torch.ops.mmema.ema_forward(*args)


@pytest.mark.parametrize('shape,factor,dtype', [
    ((2, 64, 7, 9), 8, torch.float32),  # small planes
    ((1, 16, 33, 40), 2, torch.float32),  # large planes
    ((3, 48, 5, 1), 3, torch.float64),
])
def test_inference_kernel_gives_the_forward_kernels_output(
        shape, factor, dtype):
    x = torch.randn(shape, dtype=dtype)
    args = kernel_args(x, factor)
    y, logits, x11, kernel, *_ = torch.ops.mmema.ema_forward(*args)
    for keep in (True, False):
        y_inf, logits_inf = torch.ops.mmema.ema_inference(*args, keep)
        torch.testing.assert_close(y_inf, y, rtol=0, atol=0)
        if keep:
            torch.testing.assert_close(logits_inf, logits, rtol=0, atol=0)
        else:
            assert logits_inf.numel() == 0
    # Weights of another dtype and a channels-last input are converted.
    other = [a.double() if isinstance(a, torch.Tensor) else a for a in args]
    other[0] = x.contiguous(memory_format=torch.channels_last)
    y_other, _ = torch.ops.mmema.ema_inference(*other, False)
    torch.testing.assert_close(y_other, y, rtol=1e-6, atol=1e-6)
    # The merged kernel of the x11 @ conv3x3 term, against the identity's.
    want_x11, want_kernel, _ = cross_spatial_kernel(args[4], args[5],
                                                    args[7])
    torch.testing.assert_close(x11, want_x11)
    torch.testing.assert_close(kernel, want_kernel.view(-1, 9))


def test_float32_error_on_large_mean_input_stays_below_published():
    gen = torch.Generator().manual_seed(7)
    shape, factor = (2, 64, 12, 10), 8
    module = randomize_(EMA(64, factor), 8)
    x = torch.randn(shape, generator=gen, dtype=torch.float64) * 0.5 + 10
    grad = torch.randn(shape, generator=gen, dtype=torch.float64)
    expected, expected_grads = published_run(x, grad, module.state_dict(),
                                             factor)
    published = ReferenceEMA(64, factor)
    published.load_state_dict(module.state_dict())
    errors = {}
    for name, model in (('ours', module), ('published', published)):
        x32 = x.float().requires_grad_(True)
        grads = torch.autograd.grad(model(x32), [x32], grad.float())
        errors[name] = ((grads[0].double() - expected_grads['x']).abs().max()
                        / expected_grads['x'].abs().max()).item()
    assert errors['ours'] <= max(1e-5, errors['published'])


def test_bfloat16_input_is_computed_in_float32():
    module = randomize_(EMA(64, 8), 9)
    x = torch.randn(2, 64, 6, 7).to(torch.bfloat16)
    out = module(x)
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(out.float(), module(x.float()), rtol=1e-2,
                               atol=1e-2)


def test_bfloat16_module_gets_bfloat16_gradients():
    module = randomize_(EMA(32, 4), 22)
    x = torch.randn(2, 32, 5, 6)
    grad = torch.randn_like(x)
    expected = torch.autograd.grad(module(x), list(module.parameters()),
                                   grad)
    half = EMA(32, 4).to(torch.bfloat16)
    half.load_state_dict(module.state_dict())
    got = torch.autograd.grad(half(x.bfloat16()), list(half.parameters()),
                              grad.bfloat16())
    for (name, param), g, want in zip(half.named_parameters(), got,
                                      expected):
        assert g.dtype == param.dtype == torch.bfloat16, name
        assert_rel_close(g.float(), want.double(), 0.1, 0.0, name)


class CountingSigmoid(nn.Sigmoid):
    """A sigmoid that counts its calls."""

    calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return super().forward(x)


@pytest.mark.parametrize('grad', [True, False])
@pytest.mark.parametrize('hook', ['module', 'global'])
def test_attn_gate_hook_sees_the_attention_map(grad, hook):
    module = randomize_(EMA(64, 8), 10)
    module.attn_gate = CountingSigmoid()
    x = torch.randn(2, 64, 5, 6)
    with torch.set_grad_enabled(grad):
        module(x)
    # Unobserved, the fused paths skip it.
    assert module.attn_gate.calls == 0
    maps = []

    def record(mod, args, out):
        if mod is module.attn_gate:
            maps.append(out)

    handle = (module.attn_gate.register_forward_hook(record) if hook
              == 'module' else nn.modules.module.register_module_forward_hook(
                  record))
    try:
        with torch.set_grad_enabled(grad):
            module(x)
    finally:
        handle.remove()
    assert len(maps) == 1 and maps[0].shape == (16, 1, 5, 6)
    logits = ema_logits_composite(x.reshape(16, 8, 5, 6), module.ema_params())
    torch.testing.assert_close(maps[0], logits.sigmoid())


def test_tracers_and_compilers_get_the_composite_path(monkeypatch):
    module = randomize_(EMA(64, 8), 11).double()
    x = torch.randn(2, 64, 6, 5, dtype=torch.float64)
    params = module.ema_params()
    assert dispatch.fused_ema(x, params, 8) is not None
    monkeypatch.setattr(torch.compiler, 'is_compiling', lambda: True)
    assert dispatch.fused_ema(x, params, 8) is None
    composite_x = x.clone().requires_grad_(True)
    composite = module(composite_x)
    assert composite.grad_fn is not None
    monkeypatch.undo()
    fused_x = x.clone().requires_grad_(True)
    fused = module(fused_x)
    torch.testing.assert_close(composite, fused, rtol=1e-12, atol=1e-12)
    g1 = torch.autograd.grad(composite.sum(), composite_x)[0]
    g2 = torch.autograd.grad(fused.sum(), fused_x)[0]
    torch.testing.assert_close(g1, g2, rtol=1e-10, atol=1e-12)


def test_composite_logits_match_published_weights():
    module = randomize_(EMA(48, 4), 12).double()
    x = torch.randn(3, 48, 7, 4, dtype=torch.float64)
    reference = ReferenceEMA(48, 4).double()
    reference.load_state_dict(module.state_dict())
    g = x.reshape(12, 12, 7, 4)
    logits = ema_logits_composite(g, module.ema_params())
    torch.testing.assert_close((g * logits.sigmoid()).reshape(x.shape),
                               reference(x), rtol=1e-12, atol=1e-12)


def test_gradcheck_of_the_cpu_function():
    assert cpu.cpu_ops_available()
    gen = torch.Generator().manual_seed(13)
    module = randomize_(EMA(8, 2), 14).double()
    x = torch.randn(2, 8, 4, 3, generator=gen, dtype=torch.float64,
                    requires_grad=True)
    params = [p.detach().clone().requires_grad_(True)
              for p in module.ema_params()[:6]]
    assert torch.autograd.gradcheck(
        lambda *args: FusedCPUEMAFunction.apply(*args, 2, 1e-5)[0],
        (x, *params))


def test_activation_checkpointing_gives_the_same_gradients():
    from torch.utils.checkpoint import checkpoint
    module = randomize_(EMA(32, 4), 15)
    x = torch.randn(2, 32, 6, 7, requires_grad=True)
    x_cp = x.detach().clone().requires_grad_(True)
    module(x).square().sum().backward()
    expected = [x.grad] + [p.grad.clone() for p in module.parameters()]
    module.zero_grad()
    checkpoint(module, x_cp, use_reentrant=False).square().sum().backward()
    for got, want in zip([x_cp.grad] + [p.grad for p in module.parameters()],
                         expected):
        torch.testing.assert_close(got, want)


def test_double_backward_raises_instead_of_being_wrong():
    module = randomize_(EMA(16, 4), 16)
    x = torch.randn(1, 16, 5, 5, requires_grad=True)
    (grad, ) = torch.autograd.grad(module(x).square().sum(), x,
                                   create_graph=True)
    with pytest.raises(RuntimeError, match='once_differentiable|twice'):
        grad.sum().backward()


def test_inference_mode_matches_grad_mode():
    module = randomize_(EMA(32, 4), 17)
    x = torch.randn(2, 32, 9, 4)
    with torch.inference_mode():
        out = module(x)
    torch.testing.assert_close(out, module(x).detach(), rtol=0, atol=0)


# --------------------------------------------------------------------------
# The Triton kernels (CUDA path), run by Triton's interpreter on the CPU.
# --------------------------------------------------------------------------

TRITON_CHECK = textwrap.dedent('''
    import torch
    from mmema.models.plugins.ema_paths.cpu import (FusedCPUEMAFunction,
                                                    cpu_ops_available)
    from mmema.models.plugins.ema_paths.triton.function import (
        TritonEMAFunction)
    from mmema.models.plugins.ema_paths import ReferenceEMA
    assert cpu_ops_available()
    for (shape, factor, dtype, rel) in [((2, 16, 5, 7), 4, torch.float32,
                                         1e-5),
                                        ((1, 12, 1, 6), 3, torch.float32,
                                         1e-5),
                                        ((2, 16, 6, 4), 4, torch.float16,
                                         3e-3)]:
        gen = torch.Generator().manual_seed(sum(shape))
        reference = ReferenceEMA(shape[1], factor).double()
        with torch.no_grad():
            for p in reference.parameters():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        x = torch.randn(shape, generator=gen, dtype=torch.float64)
        grad = torch.randn(shape, generator=gen, dtype=torch.float64)
        names = ['conv1x1.weight', 'conv1x1.bias', 'conv3x3.weight',
                 'conv3x3.bias', 'gn.weight', 'gn.bias']
        params = dict(reference.named_parameters())
        x64 = x.clone().requires_grad_(True)
        expected = reference(x64)
        expected_grads = torch.autograd.grad(
            expected, [x64] + [params[n] for n in names], grad)
        floor = 1e-2 * max(g.abs().max().item() for g in expected_grads)
        results = {}
        for fn in (TritonEMAFunction, FusedCPUEMAFunction):
            xi = x.to(dtype).requires_grad_(True)
            weights = [params[n].detach().float().requires_grad_(True)
                       for n in names]
            out, _ = fn.apply(xi, *weights, factor, 1e-5)
            assert out.dtype == dtype
            grads = torch.autograd.grad(out, [xi] + weights, grad.to(dtype))
            results[fn.__name__] = (out, grads)
            assert ((out.double() - expected).abs().max()
                    <= rel * expected.abs().max()), (fn.__name__, shape)
            for name, got, want in zip(['x'] + names, grads, expected_grads):
                err = (got.double() - want).abs().max().item()
                scale = max(want.abs().max().item(), floor)
                assert err <= rel * scale, (fn.__name__, shape, name, err)
    print('triton kernels ok')
''')


def test_triton_kernels_under_interpreter_match_published_and_cpu_path():
    pytest.importorskip('triton')
    env = dict(os.environ, TRITON_INTERPRET='1')
    result = subprocess.run([sys.executable, '-c', TRITON_CHECK],
                            capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'triton kernels ok' in result.stdout
