# Copyright (c) mmema contributors. All rights reserved.
"""Draw where EMA attends: one panel per image, one overlay per stage.

    python tools/visualize_attention.py CONFIG CHECKPOINT IMAGE [IMAGE ...]
        [--out-dir DIR] [--device cpu] [--alpha 0.5]
        [--cfg-options KEY=VALUE ...]

Works for detection and classification configs (the model is built in the
config's ``default_scope``). Each EMA layer's spatial attention, the
sigmoid of its cross-spatial weights, is captured by a forward hook on its
``attn_gate``, averaged over its groups and over the layers of a stage, and
overlaid on the image as the model saw it (after the test pipeline).
"""
import argparse
from typing import Optional, Sequence


from mmema.engine import add_cfg_options, load_config
from mmema.visualization import visualize_attention


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Overlay EMA attention maps on images')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('images', nargs='+', help='image files')
    parser.add_argument(
        '--out-dir',
        default='work_dirs/attention',
        help='output folder (default: work_dirs/attention)')
    parser.add_argument(
        '--device', default='cpu', help='device, e.g. cpu or cuda:0')
    parser.add_argument(
        '--alpha',
        type=float,
        default=0.5,
        help='weight of the heat map over the image (default: 0.5)')
    add_cfg_options(parser)
    args = parser.parse_args(argv)
    if not 0 <= args.alpha <= 1:
        parser.error(f'--alpha must be in [0, 1], got {args.alpha}.')
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    cfg = load_config(args)
    for path in visualize_attention(cfg, args.checkpoint, args.images,
                                    args.out_dir, args.device, args.alpha):
        print(path)


if __name__ == '__main__':
    main()
