# Copyright (c) mmema contributors. All rights reserved.
"""Export a trained model to ONNX, check it in onnxruntime, time both.

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT
        [--out model.onnx] [--exporter {torchscript,dynamo}] [--opset 17]
        [--shape H [W]] [--static] [--repeats 10] [--threads N]
        [--cfg-options KEY=VALUE ...]

The graph is the model's ``mode='tensor'`` forward (a classifier's logits,
a detector's head outputs before decoding and NMS) on what the config's
data preprocessor hands the model (normalised, padded images), with
dynamic batch, height and width unless ``--static``. The check runs the config's test
input size (``--shape`` to change it) in PyTorch and onnxruntime, prints
the largest output difference, the operator types of the graph, and both
latencies (medians of interleaved runs, batch 1).
"""
import argparse
import os.path as osp
import statistics
from typing import Optional, Sequence

import torch

from mmema.analysis.input_shape import default_input_shape
from mmema.analysis.timing import interleaved_samples, paired_ratio
from mmema.deployment import (DYNAMO_MIN_OPSET, EXPORTERS, TensorMode,
                              export_onnx, max_abs_difference, onnx_op_types,
                              onnxruntime_session)
from mmema.engine import (add_cfg_options, build_model_from_config,
                          load_config)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Export a model to ONNX and check it in onnxruntime')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--out', help='ONNX file (default: the checkpoint with .onnx)')
    parser.add_argument(
        '--exporter',
        choices=EXPORTERS,
        default='torchscript',
        help='torch.onnx.export(dynamo=False) (default) or dynamo=True')
    parser.add_argument('--opset', type=int, default=17, help='ONNX opset')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        help='input H [W] (default: from the config\'s test pipeline)')
    parser.add_argument(
        '--static',
        action='store_true',
        help='fixed input size instead of dynamic batch/height/width')
    parser.add_argument(
        '--repeats', type=int, default=10, help='timed runs of each')
    parser.add_argument(
        '--threads',
        type=int,
        help='intra-op threads of PyTorch and onnxruntime (default: '
        'their defaults)')
    add_cfg_options(parser, 'model.backbone.plugins=None')
    args = parser.parse_args(argv)
    if args.shape is not None and len(args.shape) not in (1, 2):
        parser.error(f'--shape takes H or H W, got {args.shape}.')
    if args.repeats < 1:
        parser.error('--repeats must be >= 1.')
    if args.exporter == 'dynamo' and args.opset < DYNAMO_MIN_OPSET:
        parser.error(f'--exporter dynamo writes opsets {DYNAMO_MIN_OPSET} '
                     f'and 18 only; for opset {args.opset} use --exporter '
                     'torchscript.')
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    cfg = load_config(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    height, width = (
        default_input_shape(cfg) if args.shape is None else
        (args.shape[0], args.shape[-1]))
    out = args.out or osp.splitext(args.checkpoint)[0] + '.onnx'
    model = TensorMode(build_model_from_config(cfg, args.checkpoint)).eval()
    # A normalised image, as the data preprocessor hands it to the model.
    inputs = torch.randn(1, 3, height, width)
    exported = export_onnx(model, inputs, out, args.exporter, args.opset,
                           not args.static)
    print(f'wrote {out}: {args.exporter} exporter, opset {args.opset}, '
          f'{"static" if args.static else "dynamic batch/height/width"}')
    print('operators: ' + ', '.join(onnx_op_types(exported)))
    session = onnxruntime_session(out, args.threads)
    difference = max_abs_difference(model, out, [inputs], session)
    print(f'input (1, 3, {height}, {width}): max |PyTorch - onnxruntime| '
          f'= {difference:.3e}')
    feed = {'inputs': inputs.numpy()}

    def pytorch() -> None:
        with torch.no_grad():
            model(inputs)

    samples = interleaved_samples(
        {
            'PyTorch': pytorch,
            'onnxruntime': lambda: session.run(None, feed)
        },
        torch.device('cpu'),
        repeats=args.repeats,
        warmup=2)
    times = {name: statistics.median(s) for name, s in samples.items()}
    print(f'latency, batch 1, median of {args.repeats}: PyTorch '
          f'{times["PyTorch"]:.1f} ms, onnxruntime '
          f'{times["onnxruntime"]:.1f} ms (onnxruntime / PyTorch, paired: '
          f'{paired_ratio(samples["onnxruntime"], samples["PyTorch"]):.2f})')


if __name__ == '__main__':
    main()
