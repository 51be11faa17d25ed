# Copyright (c) mmema contributors. All rights reserved.
"""Everything a GPU session checks about the fast EMA, in one run (about
5 minutes on an H100).

1. Parity on CUDA (the Triton kernels) with the published EMA computed in
   float64: outputs and all gradients, float32 within 1e-5, float16 maps
   (what EMA receives inside an autocast network) and float32 maps under
   fp16 autocast no further off than the published EMA under the same
   autocast; and the CUDA path against the CPU path on the same inputs.
2. ``benchmark_attention.py --device cuda`` (module table).
3. ``benchmark_attention.py --device cuda --model`` (ResNet-50 steps).

Usage::

    python tools/analysis_tools/gpu_check.py

Exits non-zero if a parity check fails (after running everything). It
sets ``MMEMA_EMA_TRITON=1``: the kernels it checks are opt-in elsewhere.
"""
import os
import sys
from typing import Dict, List, Tuple

import torch

from mmema.analysis import attention_benchmark
from mmema.models.plugins import EMA
from mmema.models.plugins.ema_paths import ReferenceEMA

os.environ['MMEMA_EMA_TRITON'] = '1'

SHAPES = [((8, 256, 56, 56), 32), ((8, 2048, 7, 7), 32),
          ((2, 256, 100, 152), 32), ((3, 64, 1, 1), 8), ((2, 96, 13, 1), 8)]


def run(model: torch.nn.Module, x: torch.Tensor, grad: torch.Tensor,
        autocast: bool = False) -> Tuple[torch.Tensor, List[torch.Tensor]]:
    """Output and gradients (input first, then parameters by name)."""
    x = x.detach().clone().requires_grad_(True)
    with torch.autocast('cuda', dtype=torch.float16, enabled=autocast):
        out = model(x)
    params = [p for _, p in sorted(model.named_parameters())]
    grads = torch.autograd.grad(out, [x, *params], grad.to(out.dtype))
    return out, list(grads)


def errors(out: torch.Tensor, grads: List[torch.Tensor],
           expected: Tuple[torch.Tensor, List[torch.Tensor]]) -> List[float]:
    """Relative max errors of the output and each gradient.

    Gradients are compared with at least 1e-2 of the largest one, since
    some are zero in real arithmetic; on 1x1 planes (GroupNorm variance 0,
    rstd ~316 amplifies rounding) with the largest one.
    """
    want_out, want_grads = expected
    largest = max(g.abs().max().item() for g in want_grads)
    floor = largest if out.shape[2] * out.shape[3] == 1 else 1e-2 * largest
    result = [((out.double() - want_out).abs().max() /
               want_out.abs().max()).item()]
    for got, want in zip(grads, want_grads):
        result.append((got.double() - want).abs().max().item() /
                      max(want.abs().max().item(), floor))
    return result


def parity() -> bool:
    ok = True
    for shape, factor in SHAPES:
        torch.manual_seed(sum(shape))
        ema = EMA(shape[1], factor).cuda()
        with torch.no_grad():
            for p in ema.parameters():
                p.copy_(torch.randn_like(p) * 0.5)
        published = ReferenceEMA(shape[1], factor).cuda()
        published.load_state_dict(ema.state_dict())
        x = torch.randn(shape, device='cuda')
        grad = torch.randn(shape, device='cuda')
        expected = run(published.double(), x.double(), grad.double())
        published.float()
        results: Dict[str, List[float]] = {
            'float32': errors(*run(ema, x, grad), expected),
            'float16 map': errors(*run(ema, x.half(), grad), expected),
            'autocast': errors(*run(ema, x, grad, autocast=True), expected),
            'published float32': errors(*run(published, x, grad), expected),
            'published autocast': errors(
                *run(published, x, grad, autocast=True), expected),
            'cpu path': errors(*run(ema.cpu(), x.cpu(), grad.cpu()),
                               tuple(t.cpu() if isinstance(t, torch.Tensor)
                                     else [g.cpu() for g in t]
                                     for t in expected)),
        }
        ema.cuda()
        limits = {
            'float32': 1e-5,
            'cpu path': 1e-5,
            'float16 map': max(3e-3, max(results['published autocast'])),
            'autocast': max(1e-5, max(results['published autocast'])),
        }
        for name, errs in results.items():
            worst = max(errs)
            verdict = ''
            if name in limits:
                passed = worst <= limits[name]
                ok &= passed
                verdict = 'PASS' if passed else f'FAIL (> {limits[name]:.1e})'
            print(f'{str(shape):20} {name:20} worst rel error {worst:.2e} '
                  f'{verdict}')
    return ok


def main() -> None:
    if not torch.cuda.is_available():
        sys.exit('gpu_check: no CUDA device visible.')
    print(f'{torch.cuda.get_device_name()}; torch {torch.__version__}')
    ok = parity()
    attention_benchmark.main(['--device', 'cuda', '--repeats', '20',
                              '--warmup', '3'])
    attention_benchmark.main(['--device', 'cuda', '--model', '--repeats',
                              '10', '--warmup', '3'])
    print('parity:', 'PASS' if ok else 'FAIL')
    sys.exit(0 if ok else 1)


if __name__ == '__main__':
    main()
