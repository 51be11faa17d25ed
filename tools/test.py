# Copyright (c) mmema contributors. All rights reserved.
"""Evaluate a checkpoint with an mmema, mmdet or mmpretrain config.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]

The config's ``test_evaluator`` prints the metrics (COCO bbox mAP for
detection, top-1/top-5 accuracy for classification).
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS, init_default_scope
from mmengine.runner import Runner

from mmema.engine import setup_cpu_distributed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='where logs and metrics go (default: '
        'work_dirs/<config name>)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. test_dataloader.batch_size=4')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if not osp.isfile(args.checkpoint):
        parser.error(f'checkpoint {args.checkpoint} not found: pass the path '
                     'of a .pth file that tools/train.py wrote.')
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint

    # A gloo process group on a machine without GPUs; a no-op otherwise.
    setup_cpu_distributed(cfg)
    # Registries resolve in the config's scope (mmdet, mmpretrain, ...).
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    runner = (RUNNERS.build(cfg) if 'runner_type' in cfg else
              Runner.from_cfg(cfg))
    runner.test()


if __name__ == '__main__':
    main()
