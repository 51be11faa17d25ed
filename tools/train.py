# Copyright (c) mmema contributors. All rights reserved.
"""Train a model from an mmema, mmdet or mmpretrain config.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]

The registry scope (mmdet, mmpretrain, ...) is the config's
``default_scope``, so detection and classification configs share this tool.
"""
import argparse

from mmengine.device import get_device

from mmema.engine import add_run_args, build_runner, load_run_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    add_run_args(parser)
    parser.add_argument(
        '--resume',
        nargs='?',
        const='auto',
        help='resume from CKPT; without CKPT, from the latest checkpoint '
        'in the work dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='automatic mixed precision (needs a GPU, NPU, MLU or MUSA)')
    args = parser.parse_args()
    if args.amp and get_device() == 'cpu':
        parser.error('--amp needs a GPU, NPU, MLU or MUSA device and this '
                     'machine has none: drop --amp.')
    return args


def main() -> None:
    args = parse_args()
    cfg = load_run_config(args)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    build_runner(cfg).train()


if __name__ == '__main__':
    main()
