# Copyright (c) mmema contributors. All rights reserved.
"""Write the README's result cells and the metafiles' Results from runs.

    python tools/analysis_tools/collect_results.py WORK_DIR [WORK_DIR ...]
        [--readme README.md] [--metafiles configs] [--dry-run]

Each WORK_DIR is the ``--work-dir`` of one ``tools/train.py`` run (and of
``tools/test.py`` runs after it): the config mmengine dumped there names
the model (a config without EMA, e.g. trained with ``--cfg-options
model.backbone.plugins=None``, fills the ``w/o EMA`` part of its cells),
the scalars give the metrics (the latest test run's, else the last
validation's), the log's environment block the GPUs. The tool prints what
it read, then rewrites the README rows that link each config and the
metafile entry of each EMA config (see
:mod:`mmema.analysis.result_tables`); no number is typed by hand.
"""
import argparse
import glob
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

from mmema.analysis.markdown_table import format_table
from mmema.analysis.result_tables import fill_metafile, fill_readme, rewrite
from mmema.analysis.run_results import RunResult, read_run

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Fill result cells from finished runs')
    parser.add_argument('work_dirs', nargs='+', metavar='WORK_DIR')
    parser.add_argument(
        '--readme',
        default=osp.join(REPO, 'README.md'),
        help='Markdown file whose tables to fill (default: README.md)')
    parser.add_argument(
        '--metafiles',
        default=osp.join(REPO, 'configs'),
        help='folder searched for metafile.yml (default: configs)')
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='print what was read and would be written; change nothing')
    return parser.parse_args(argv)


def collect(work_dirs: Sequence[str]) -> Dict[Tuple[str, bool], RunResult]:
    """Runs by ``(config, with EMA)``; a later work dir of the same pair
    replaces an earlier one, with a message."""
    results = {}
    for work_dir in work_dirs:
        result = read_run(work_dir)
        key = (result.config, result.with_ema)
        if key in results:
            print(f'{work_dir} replaces {results[key].work_dir} for '
                  f'{result.config} ({"with" if key[1] else "w/o"} EMA)')
        results[key] = result
    return results


def summary(results: Dict[Tuple[str, bool], RunResult]) -> str:
    rows = [[
        r.config, 'yes' if r.with_ema else 'no', r.split,
        ', '.join(f'{k} {v:g}' for k, v in r.metrics.items()),
        str(r.epochs) if r.epochs else f'{r.iterations} iters', r.date,
        r.devices, f'{r.train_minutes:.1f}'
    ] for r in results.values()]
    return format_table([
        'config', 'with EMA', 'split', 'metrics', 'epochs', 'date', 'devices',
        'training (min)'
    ], rows)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    try:
        results = collect(args.work_dirs)
    except (FileNotFoundError, ValueError) as error:
        raise SystemExit(f'collect_results.py: {error}') from error
    print(summary(results))
    metafiles = sorted(
        glob.glob(
            osp.join(args.metafiles, '**', 'metafile.yml'), recursive=True))
    verb = 'to write (--dry-run)' if args.dry_run else 'written'
    cells = rewrite(args.readme, lambda text: fill_readme(text, results),
                    not args.dry_run)
    print(f'{args.readme}: {cells} cells {verb}.')
    for path in metafiles:
        models = rewrite(path, lambda text: fill_metafile(text, results),
                         not args.dry_run)
        if models:
            print(f'{path}: Results of {models} model(s) {verb}.')


if __name__ == '__main__':
    main()
