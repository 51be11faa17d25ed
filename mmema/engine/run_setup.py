# Copyright (c) mmema contributors. All rights reserved.
"""What ``tools/train.py`` and ``tools/test.py`` share: the common command
line, the run's config and the Runner built in the config's scope."""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS, init_default_scope
from mmengine.runner import Runner

from .cpu_distributed import setup_cpu_distributed


def add_cfg_options(parser: argparse.ArgumentParser,
                    example: str = 'model.backbone.plugins=None '
                    'train_cfg.max_epochs=1') -> None:
    """Add ``--cfg-options KEY=VALUE ...`` (mmengine's ``DictAction``).

    Args:
        parser (ArgumentParser): The tool's parser.
        example (str): Overrides shown in the help.
    """
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help=f'override config settings, e.g. {example}')


def add_run_args(parser: argparse.ArgumentParser) -> None:
    """Add ``config``, ``--work-dir``, ``--cfg-options``, ``--launcher``.

    Args:
        parser (ArgumentParser): The tool's parser.
    """
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--work-dir',
        help='where logs, checkpoints and metrics go (default: '
        'work_dirs/<config name>)')
    add_cfg_options(parser)
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local-rank; torchrun sets LOCAL_RANK.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def load_config(args: argparse.Namespace) -> Config:
    """``args.config`` with ``--cfg-options`` (:func:`add_cfg_options`)
    merged in."""
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def load_run_config(args: argparse.Namespace) -> Config:
    """The config of a run: the file, ``--cfg-options``, the work dir.

    Args:
        args (Namespace): Parsed arguments of :func:`add_run_args`.

    Returns:
        Config: The merged config, with ``launcher`` and ``work_dir`` set.
    """
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    cfg = load_config(args)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg


def build_runner(cfg: Config) -> Runner:
    """Build the Runner in the config's registry scope.

    On a machine without GPUs a distributed launcher gets a gloo process
    group (see :func:`setup_cpu_distributed`); elsewhere mmengine's own.

    Args:
        cfg (Config): The run's config.

    Returns:
        Runner: The runner (``runner_type`` if the config names one).
    """
    setup_cpu_distributed(cfg)
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
