# Copyright (c) mmema contributors. All rights reserved.
"""Time mmema's EMA against the reference EMA, other attentions and a
ResNet-50 bottleneck, or (``--model``) ResNet-50 train steps with and
without EMA: ``tools/analysis_tools/benchmark_attention.py`` and
``tools/analysis_tools/gpu_check.py`` run :func:`main`.

Module mode prints one table: per shape and module the median forward
(no_grad) and forward+backward times, forward+backward relative to the
reference EMA and to the bottleneck at the same shape, the forward relative
to the memory floor (copying the input into a preallocated output: one read
and one write), and the peak memory that a forward+backward allocates. All
modules of a shape are timed in one process, interleaved repeat by repeat
after a warm-up, so they share the allocator, the threads and the machine's
load.

Model mode times train steps of ResNet-50 plain, with mmema's EMA, with the
reference EMA, and with an identity that only keeps its input for backward
and allocates its output and input gradient as EMA does: the part of EMA's
cost that no EMA kernel can remove.

Examples::

    python tools/analysis_tools/benchmark_attention.py
    python tools/analysis_tools/benchmark_attention.py --device cuda
    python tools/analysis_tools/benchmark_attention.py --model
"""
import argparse
import math
from typing import Callable, Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.registry import MODELS
from torch.profiler import ProfilerActivity, profile

import mmema  # noqa: F401  (registers EMA and the other attentions)
from mmema.models.plugins.ema_paths import ReferenceEMA, implementation_name
from .markdown_table import print_columns
from .timing import (interleaved_medians, interleaved_samples, ratio_rows,
                     synchronize)

SHAPES = ((8, 256, 56, 56), (8, 512, 28, 28), (8, 1024, 14, 14),
          (8, 2048, 7, 7), (2, 256, 200, 304))
OTHER_ATTENTIONS = ('SE', 'CA', 'CBAM', 'ECA', 'SA', 'NAM')
Shape = Tuple[int, int, int, int]


def parse_args(argv: Sequence[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='benchmark_attention.py', description=__doc__.split('\n\n')[0])
    parser.add_argument('--device', default='cpu', help='cpu or cuda')
    parser.add_argument(
        '--threads', type=int, help='intra-op CPU threads (default: '
        "torch's default)")
    parser.add_argument('--repeats', type=int, default=7,
                        help='timed repeats per module (median reported)')
    parser.add_argument('--warmup', type=int, default=2,
                        help='untimed runs per module first')
    parser.add_argument(
        '--shapes', nargs='+', type=parse_shape,
        help='B,C,H,W shapes (default: the four ResNet-50 stages at '
        'batch 8 and a 2x256x200x304 detection map)')
    parser.add_argument('--no-memory', action='store_true',
                        help='skip the peak-memory measurement')
    parser.add_argument(
        '--model', action='store_true',
        help='time ResNet-50 train steps with and without EMA instead')
    parser.add_argument('--model-batch', type=int, default=8)
    parser.add_argument('--model-size', type=int, default=224)
    args = parser.parse_args(argv)
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        parser.error('--device cuda: no CUDA device is visible.')
    if args.repeats < 1 or args.warmup < 0:
        parser.error('--repeats must be >= 1 and --warmup >= 0.')
    return args


def parse_shape(text: str) -> Shape:
    """``'8,256,56,56'`` -> (8, 256, 56, 56)."""
    parts = text.split(',')
    if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
        raise argparse.ArgumentTypeError(
            f'shape {text!r} must be four integers B,C,H,W, e.g. 8,256,56,56')
    return tuple(int(p) for p in parts)


def peak_memory_mb(fn: Callable[[], object], device: torch.device) -> float:
    """Peak memory allocated during one call, above what was live before.

    CUDA reads the caching allocator's statistics; CPU replays, in time
    order, the allocations and frees that the profiler records (all
    threads).
    """
    if device.type == 'cuda':
        synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        synchronize(device)
        return (torch.cuda.max_memory_allocated(device) - base) / 2**20
    with profile(activities=[ProfilerActivity.CPU],
                 profile_memory=True) as prof:
        fn()
    events = [
        e for e in prof.profiler.kineto_results.events()
        if e.name() == '[memory]'
    ]
    live = peak = 0
    for event in sorted(events, key=lambda e: e.start_ns()):
        live += event.nbytes()
        peak = max(peak, live)
    return peak / 2**20


def build_modules(channels: int,
                  device: torch.device) -> Dict[str, nn.Module]:
    """The modules compared at ``channels``: a ResNet-50 bottleneck with
    that many output channels, mmema's EMA, the reference EMA with the
    same weights, and the other attentions registered in ``MODELS``."""
    from mmdet.models.backbones.resnet import Bottleneck
    ema = MODELS.build(dict(type='EMA', in_channels=channels))
    reference = ReferenceEMA(channels)
    reference.load_state_dict(ema.state_dict())
    modules = {
        'bottleneck': Bottleneck(channels, channels // 4),
        'EMA': ema,
        'reference EMA': reference,
    }
    for name in OTHER_ATTENTIONS:
        cfg = dict(type=name, in_channels=channels)
        if name == 'SA' and channels % 128:
            # SA's 64 groups need channels divisible by 128, as at every
            # ResNet-50 shape; smaller shapes take the most groups that fit.
            cfg['groups'] = math.gcd(64, channels // 2)
        modules[name] = MODELS.build(cfg)
    return {name: m.to(device).train() for name, m in modules.items()}


def forward_backward(module: nn.Module, x: torch.Tensor,
                     grad: torch.Tensor) -> Callable[[], None]:
    """One forward+backward, gradients reset before (outside the timing
    only in the sense that ``zero_grad`` is part of any train step)."""

    def run() -> None:
        x.grad = None
        module.zero_grad(set_to_none=True)
        module(x).backward(grad)

    return run


def inference(module: nn.Module, x: torch.Tensor) -> Callable[[], None]:

    def run() -> None:
        with torch.no_grad():
            module(x)

    return run


def benchmark_shape(shape: Shape, device: torch.device,
                    args: argparse.Namespace) -> List[List[str]]:
    """Rows of the table for one shape."""
    torch.manual_seed(0)
    x = torch.randn(shape, device=device, requires_grad=True)
    grad = torch.randn(shape, device=device)
    modules = build_modules(shape[1], device)
    floor_out = torch.empty_like(x)
    fns: Dict[str, Callable[[], object]] = {
        'floor': lambda: floor_out.copy_(x.detach())
    }
    for name, module in modules.items():
        fns[f'{name} fwd'] = inference(module, x)
        fns[f'{name} fwd+bwd'] = forward_backward(module, x, grad)
    times = interleaved_medians(fns, device, args.repeats, args.warmup)
    input_mb = x.numel() * x.element_size() / 2**20
    rows = []
    for name, module in modules.items():
        fwd, both = times[f'{name} fwd'], times[f'{name} fwd+bwd']
        peak = '-'
        if not args.no_memory:
            peak_mb = peak_memory_mb(forward_backward(module, x, grad),
                                     device)
            peak = f'{peak_mb:.1f} ({peak_mb / input_mb:.1f}x)'
        rows.append([
            str(shape) if not rows else '', name, f'{fwd:.1f}',
            f'{fwd / times["floor"]:.1f}', f'{both:.1f}',
            f'{both / times["reference EMA fwd+bwd"]:.2f}',
            f'{both / times["bottleneck fwd+bwd"]:.2f}', peak
        ])
    rows.append(['', f'memory floor {times["floor"]:.2f} ms', '', '', '', '',
                 '', f'input {input_mb:.1f} MB'])
    return rows


def describe(device: torch.device, args: argparse.Namespace) -> str:
    where = (torch.cuda.get_device_name(device) if device.type == 'cuda' else
             f'cpu, {torch.get_num_threads()} intra-op threads')
    return (f'device: {where}; torch {torch.__version__}; mmema EMA: '
            f'{implementation_name(device)}; {args.repeats} interleaved '
            f'repeats after {args.warmup} warm-up, medians')


def run_modules(device: torch.device, args: argparse.Namespace) -> None:
    header = [
        'shape', 'module', 'fwd ms', 'fwd/floor', 'fwd+bwd ms',
        'vs reference EMA', 'vs bottleneck', 'peak MB fwd+bwd (x input)'
    ]
    rows = []
    for shape in args.shapes or SHAPES:
        rows += benchmark_shape(shape, device, args)
    print(describe(device, args))
    print_columns(header, rows)


class Classifier(nn.Module):
    """ResNet-50 (mmdet's, as EMA configs use it) with a linear head."""

    def __init__(self, with_ema: bool) -> None:
        super().__init__()
        from mmdet.models.backbones import ResNet
        plugins = [
            dict(cfg=dict(type='EMA', factor=32), stages=(True, ) * 4,
                 position='after_conv3')
        ] if with_ema else None
        self.backbone = ResNet(depth=50, out_indices=(3, ), plugins=plugins)
        self.head = nn.Linear(2048, 1000)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x)[-1].mean((2, 3)))


class _KeepInput(torch.autograd.Function):
    """Identity that keeps its input for backward and returns fresh output
    and input-gradient tensors, as EMA does, with no arithmetic."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x)
        return x.clone()

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.clone()


class KeepInput(nn.Module):
    """What any EMA costs a network beyond its arithmetic: one more kept
    activation and two fresh full-size tensors per block."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _KeepInput.apply(x)


def with_keep_input(model: Classifier) -> Classifier:
    """Swap every EMA of ``model`` for :class:`KeepInput`."""
    for block in model.modules():
        if getattr(block, 'ema_attn', None) is not None:
            block.ema_attn = KeepInput()
    return model


def with_reference_ema(model: Classifier) -> Classifier:
    """Swap every EMA of ``model`` for the reference EMA, same weights."""
    for block in model.modules():
        ema = getattr(block, 'ema_attn', None)
        if ema is not None and not isinstance(ema, ReferenceEMA):
            reference = ReferenceEMA(ema.in_channels, ema.factor)
            reference.load_state_dict(ema.state_dict())
            block.ema_attn = reference
    return model


def train_step(model: nn.Module, x: torch.Tensor,
               target: torch.Tensor) -> Callable[[], None]:
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)

    def run() -> None:
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), target).backward()
        optimizer.step()

    return run


def run_model(device: torch.device, args: argparse.Namespace) -> None:
    torch.manual_seed(0)
    x = torch.randn(args.model_batch, 3, args.model_size, args.model_size,
                    device=device)
    target = torch.randint(0, 1000, (args.model_batch, ), device=device)
    models = {
        'ResNet-50': Classifier(False),
        'ResNet-50 + EMA (mmema)': Classifier(True),
        'ResNet-50 + EMA (reference)': with_reference_ema(Classifier(True)),
        'ResNet-50 + identity that keeps its input':
        with_keep_input(Classifier(True)),
    }
    steps = {
        name: train_step(model.to(device).train(), x, target)
        for name, model in models.items()
    }
    samples = interleaved_samples(steps, device, args.repeats, args.warmup)
    print(describe(device, args))
    print(f'train step, batch {args.model_batch}, '
          f'{args.model_size}x{args.model_size}, EMA after_conv3 in all '
          'stages; paired: median over rounds of the ratio within a round')
    print_columns(['model', 'step ms', 'vs ResNet-50', 'paired'],
                  ratio_rows(samples, 'ResNet-50'))


def main(argv: Sequence[str] = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.model:
        run_model(device, args)
    else:
        run_modules(device, args)
