# Copyright (c) mmema contributors. All rights reserved.
"""Inference latency of a model with EMA against the same model without it.

``tools/analysis_tools/benchmark_inference.py`` runs :func:`main`: batch-1
eval-mode inference of ResNet-50 (mmpretrain's classifier, the attention
after conv3 of every bottleneck) at 224x224, or of YOLOX-s
(``configs/detection/yolox_s-ema_8xb8-300e_coco.py``) at 640x640, plain,
with EMA and with SE, in PyTorch (``torch.no_grad``) or in onnxruntime
(the TorchScript exporter's opset-17 graph). The models are timed
interleaved round by round; ``paired`` is the median over rounds of each
round's ratio to the plain model.
"""
import argparse
import os.path as osp
import tempfile
from typing import Callable, Dict, Sequence

import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope

from mmema.deployment import TensorMode, export_onnx, onnxruntime_session
from mmema.models.plugins.ema_paths import implementation_name
from .markdown_table import print_columns
from .timing import interleaved_samples, ratio_rows

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
YOLOX_CONFIG = osp.join(REPO, 'configs', 'detection',
                        'yolox_s-ema_8xb8-300e_coco.py')
ATTENTIONS = (None, 'EMA', 'SE')


def parse_args(argv: Sequence[str] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog='benchmark_inference.py', description=__doc__.split('\n\n')[0])
    parser.add_argument(
        '--runtime',
        choices=['pytorch', 'onnxruntime'],
        default='pytorch',
        help='PyTorch eager (no_grad) or onnxruntime on the CPU')
    parser.add_argument(
        '--model', choices=['resnet50', 'yolox_s'], default='resnet50')
    parser.add_argument(
        '--size', type=int, help='input side (default: 224, YOLOX 640)')
    parser.add_argument(
        '--threads', type=int, default=1, help='intra-op threads')
    parser.add_argument('--repeats', type=int, default=15)
    parser.add_argument('--warmup', type=int, default=3)
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.warmup < 0:
        parser.error('--repeats must be >= 1 and --warmup >= 0.')
    return args


def resnet50(attention: str) -> nn.Module:
    """mmpretrain's ResNet-50 classifier, the attention after every conv3."""
    plugins = None if attention is None else [
        dict(
            cfg=dict(type=attention),
            stages=(True, ) * 4,
            position='after_conv3')
    ]
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        return MODELS.build(
            dict(
                type='ImageClassifier',
                backbone=dict(type='PluginResNet', depth=50, plugins=plugins),
                neck=dict(type='GlobalAveragePooling'),
                head=dict(
                    type='LinearClsHead', num_classes=1000, in_channels=2048)))


def yolox_s(attention: str) -> nn.Module:
    """YOLOX-s with the attention where the EMA config puts EMA."""
    cfg = Config.fromfile(YOLOX_CONFIG)
    if attention is None:
        cfg.model.backbone.plugins = None
    else:
        cfg.model.backbone.plugins[0].cfg = dict(type=attention)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MODELS.build(cfg.model)


def runners(args: argparse.Namespace, x: torch.Tensor,
            workdir: str) -> Dict[str, Callable[[], object]]:
    """A callable per model that runs one batch-1 inference."""
    build = resnet50 if args.model == 'resnet50' else yolox_s
    fns = {}
    for attention in ATTENTIONS:
        name = f'{args.model}' + (f' + {attention}' if attention else '')
        model = TensorMode(build(attention)).eval()
        if args.runtime == 'pytorch':

            def run(model: nn.Module = model) -> None:
                with torch.no_grad():
                    model(x)

            fns[name] = run
        else:
            path = osp.join(workdir, f'{attention or "plain"}.onnx')
            export_onnx(model, x, path, 'torchscript', 17, dynamic=False)
            session = onnxruntime_session(path, args.threads)
            fns[name] = lambda s=session: s.run(None, {'inputs': x.numpy()})
    return fns


def main(argv: Sequence[str] = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    size = args.size or (224 if args.model == 'resnet50' else 640)
    torch.manual_seed(0)
    x = torch.randn(1, 3, size, size)
    with tempfile.TemporaryDirectory() as workdir:
        fns = runners(args, x, workdir)
        samples = interleaved_samples(fns, torch.device('cpu'), args.repeats,
                                      args.warmup)
    plain = next(iter(samples))
    where = ('onnxruntime (TorchScript exporter, opset 17)'
             if args.runtime == 'onnxruntime' else
             f'PyTorch eager, EMA: {implementation_name(x.device)}')
    print(f'inference, batch 1, {size}x{size}, {args.threads} intra-op '
          f'thread(s), {where}; {args.repeats} interleaved rounds after '
          f'{args.warmup} warm-up, medians; paired: median over rounds of '
          'the ratio within a round')
    print_columns(['model', 'ms', f'vs {plain}', 'paired'],
                  ratio_rows(samples, plain))
