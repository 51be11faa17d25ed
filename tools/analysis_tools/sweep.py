# Copyright (c) mmema contributors. All rights reserved.
"""Train and test every ablation config with one seed; write one table.

Reproduces the paper's comparison with one command per family::

    python tools/analysis_tools/sweep.py \\
        configs/ablations/resnet50-*_cifar100.py \\
        --work-dir work_dirs/sweep_cifar100 --paper cifar100_resnet50
    python tools/analysis_tools/sweep.py \\
        configs/ablations/faster-rcnn_r50-*_fpn_1x_coco.py \\
        --work-dir work_dirs/sweep_coco --gpus 8

For each config, in order, ``tools/train.py`` trains in
``WORK_DIR/<config name>`` (``--resume``: an interrupted sweep continues
from each run's last checkpoint, and nothing is deleted), then
``tools/test.py`` evaluates the last checkpoint. Every run gets the same
``randomness.seed``; ``--cfg-options`` go to every train and test run
unchanged (e.g. a shrunk schedule). After each config the table is
rewritten as ``WORK_DIR/results.md`` and ``WORK_DIR/results.csv``: one row
per config, the test metrics and, with ``--paper``, the paper's numbers for
that attention. A failed run is a row with its status; the sweep goes on
and exits with 1.
"""
import argparse
import csv
import glob
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

from mmema.analysis import PAPER_TABLES, PaperTable
from mmema.analysis.attention_config import attention_of

TOOLS_DIR = osp.dirname(osp.dirname(osp.abspath(__file__)))
TRAIN_SCRIPT = osp.join(TOOLS_DIR, 'train.py')
TEST_SCRIPT = osp.join(TOOLS_DIR, 'test.py')


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Train and test ablation configs with one seed and '
        'write one results table (markdown and CSV).')
    parser.add_argument('configs', nargs='+', help='config files')
    parser.add_argument(
        '--work-dir',
        default='work_dirs/sweep',
        help='one sub-directory per config, plus results.md/.csv')
    parser.add_argument(
        '--seed', type=int, default=0, help='randomness.seed of every run')
    parser.add_argument(
        '--gpus',
        type=int,
        default=1,
        help='GPUs per run; above 1, runs start with torch.distributed.run '
        'and --launcher pytorch')
    parser.add_argument(
        '--paper',
        choices=sorted(PAPER_TABLES),
        help='add this paper table\'s metrics beside the measured ones')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help='passed unchanged to every train and test run, e.g. '
        'train_cfg.max_epochs=1')
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='print the commands without running them')
    args = parser.parse_args()
    check_args(parser, args)
    return args


def check_args(parser: argparse.ArgumentParser,
               args: argparse.Namespace) -> None:
    """Reject what would fail late or overwrite one run with another."""
    missing = [c for c in args.configs if not osp.isfile(c)]
    if missing:
        parser.error(f'config files not found: {missing}.')
    names = [run_name(c) for c in args.configs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        parser.error(f'configs share the names {duplicates}, so their runs '
                     'would share a work dir: sweep them separately.')
    bad = [o for o in args.cfg_options if '=' not in o]
    if bad:
        parser.error(f'--cfg-options takes KEY=VALUE items, got {bad}.')
    if any(o.split('=', 1)[0] == 'randomness.seed' for o in args.cfg_options):
        parser.error('set the seed with --seed, not --cfg-options.')
    if args.gpus < 1:
        parser.error(f'--gpus must be >= 1, got {args.gpus}.')


def run_name(config: str) -> str:
    """The config's file name without ``.py``: its run's directory."""
    return osp.splitext(osp.basename(config))[0]


def command(script: str, arguments: Sequence[str],
            args: argparse.Namespace) -> List[str]:
    """The command line of one train or test run: the seed, then the
    user's ``--cfg-options``; through ``torch.distributed.run`` on several
    GPUs."""
    options = [f'randomness.seed={args.seed}', *args.cfg_options]
    if args.gpus > 1:
        prefix = [
            sys.executable, '-m', 'torch.distributed.run',
            f'--nproc_per_node={args.gpus}', script
        ]
        launcher = ['--launcher', 'pytorch']
    else:
        prefix, launcher = [sys.executable, script], []
    return prefix + list(arguments) + ['--cfg-options', *options] + launcher


def train_command(config: str, args: argparse.Namespace) -> List[str]:
    """Train ``config`` in its run directory, resuming if it has a
    checkpoint."""
    work_dir = osp.join(args.work_dir, run_name(config))
    return command(TRAIN_SCRIPT, [config, '--work-dir', work_dir, '--resume'],
                   args)


def evaluation_command(config: str, checkpoint: str,
                       args: argparse.Namespace) -> List[str]:
    """Test ``checkpoint``, writing into ``<run directory>/test``."""
    test_dir = osp.join(args.work_dir, run_name(config), 'test')
    return command(TEST_SCRIPT, [config, checkpoint, '--work-dir', test_dir],
                   args)


def metric_files(test_dir: str) -> set:
    """The metric files mmengine's LoggerHook writes after a test epoch:
    ``<test_dir>/<timestamp>/<timestamp>.json``."""
    return {
        path
        for path in glob.glob(osp.join(test_dir, '*', '*.json'))
        if osp.basename(osp.dirname(path)) == osp.splitext(
            osp.basename(path))[0]
    }


def read_metrics(path: str) -> Dict[str, float]:
    """Evaluator metrics (``prefix/name`` keys) of a test metric file."""
    with open(path, encoding='utf-8') as f:
        tags = json.load(f)
    return {k: v for k, v in tags.items() if '/' in k}


def sweep_one(config: str, args: argparse.Namespace) -> dict:
    """Train and test one config; return its table row."""
    work_dir = osp.join(args.work_dir, run_name(config))
    test_dir = osp.join(work_dir, 'test')
    cfg = Config.fromfile(config)
    row = {
        'config': run_name(config),
        'attention': attention_of(cfg.model, cfg.get('default_scope'))
    }
    code = subprocess.call(train_command(config, args))
    if code != 0:
        return dict(row, status=f'train failed (exit {code}), see {work_dir}')
    last = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(last):
        return dict(row, status=f'no checkpoint in {work_dir}')
    with open(last, encoding='utf-8') as f:
        checkpoint = f.read().strip()
    before = metric_files(test_dir)
    code = subprocess.call(evaluation_command(config, checkpoint, args))
    new_files = sorted(metric_files(test_dir) - before)
    if code != 0 or not new_files:
        return dict(row, status=f'test failed (exit {code}), see {test_dir}')
    return dict(row, status='ok', **read_metrics(new_files[-1]))


def add_paper_columns(rows: List[dict], table: PaperTable) -> None:
    """Add the paper's metrics for each row's attention, where it has one."""
    for row in rows:
        if row['attention'] in table.attentions:
            paper = table.row(row['attention'])
            for name in table.metric_names:
                row[f'paper {name}'] = paper.metrics[name]


def write_tables(rows: List[dict], work_dir: str, seed: int,
                 table: Optional[PaperTable]) -> None:
    """Write ``results.md`` and ``results.csv`` into ``work_dir``."""
    rows = [dict(r) for r in rows]
    if table is not None:
        add_paper_columns(rows, table)
    columns: List[str] = ['config', 'attention', 'status']
    for row in rows:
        columns += [k for k in row if k not in columns]
    with open(osp.join(work_dir, 'results.csv'), 'w', newline='',
              encoding='utf-8') as f:
        writer = csv.DictWriter(f, columns, restval='')
        writer.writeheader()
        writer.writerows(rows)

    def cell(value: object) -> str:
        return f'{value:.2f}' if isinstance(value, float) else str(value)

    lines = [
        f'Seed {seed}' + (f'; paper: {table.title}' if table else '') + '.',
        '', '| ' + ' | '.join(columns) + ' |',
        '|' + '---|' * len(columns)
    ] + [
        '| ' + ' | '.join(cell(row.get(c, '-')) for c in columns) + ' |'
        for row in rows
    ]
    with open(osp.join(work_dir, 'results.md'), 'w', encoding='utf-8') as f:
        f.write('\n'.join(lines) + '\n')


def main() -> None:
    args = parse_args()
    if args.dry_run:
        for config in args.configs:
            last = osp.join(args.work_dir, run_name(config), 'last_checkpoint')
            print(' '.join(train_command(config, args)))
            print(' '.join(
                evaluation_command(config, f'<path in {last}>', args)))
        return
    os.makedirs(args.work_dir, exist_ok=True)
    table = PAPER_TABLES[args.paper] if args.paper else None
    rows: List[dict] = []
    for config in args.configs:
        rows.append(sweep_one(config, args))
        write_tables(rows, args.work_dir, args.seed, table)
    with open(osp.join(args.work_dir, 'results.md'), encoding='utf-8') as f:
        print(f.read())
    if any(row['status'] != 'ok' for row in rows):
        sys.exit(1)


if __name__ == '__main__':
    main()
