# Copyright (c) mmema contributors. All rights reserved.
"""Evaluate a checkpoint with an mmema, mmdet or mmpretrain config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]

The config's ``test_evaluator`` prints the metrics (COCO bbox mAP for
detection, top-1/top-5 accuracy for classification).
"""
import argparse
import os.path as osp

from mmema.engine import add_run_args, build_runner, load_run_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a checkpoint')
    add_run_args(parser)
    parser.add_argument('checkpoint', help='checkpoint file')
    args = parser.parse_args()
    if not osp.isfile(args.checkpoint):
        parser.error(f'checkpoint {args.checkpoint} not found: pass the path '
                     'of a .pth file that tools/train.py wrote.')
    return args


def main() -> None:
    args = parse_args()
    cfg = load_run_config(args)
    cfg.load_from = args.checkpoint
    build_runner(cfg).test()


if __name__ == '__main__':
    main()
