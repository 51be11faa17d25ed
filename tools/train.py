# Copyright (c) mmema contributors. All rights reserved.
"""Train a model from an mmema, mmdet or mmpretrain config.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]

The registry scope (mmdet, mmpretrain, ...) is the config's
``default_scope``, so detection and classification configs share this tool.
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.device import get_device
from mmengine.registry import RUNNERS, init_default_scope
from mmengine.runner import Runner

from mmema.engine import setup_cpu_distributed


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--work-dir',
        help='where logs and checkpoints go (default: '
        'work_dirs/<config name>)')
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
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, e.g. '
        'model.backbone.plugins=None train_cfg.max_epochs=1')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if args.amp and get_device() == 'cpu':
        parser.error('--amp needs a GPU, NPU, MLU or MUSA device and this '
                     'machine has none: drop --amp.')
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
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    # A gloo process group on a machine without GPUs; a no-op otherwise.
    setup_cpu_distributed(cfg)
    # Registries resolve in the config's scope (mmdet, mmpretrain, ...).
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    runner = (RUNNERS.build(cfg) if 'runner_type' in cfg else
              Runner.from_cfg(cfg))
    runner.train()


if __name__ == '__main__':
    main()
