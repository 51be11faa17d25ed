# Copyright (c) mmema contributors. All rights reserved.
"""Result cells of the README's tables and the metafiles, from runs.

A README row belongs to a config when one of its cells links it
(``[name](configs/.../name.py)``). Columns are filled by their title
(:data:`COLUMNS`). In a table with a ``with EMA`` column (``yes``/``no``) a
row takes the run of that variant; in the others a row shows the EMA run
and the same config's run without EMA: ``0.376 (w/o EMA 0.463)``; the part
of a cell that no run given now measures is kept, so the two runs can be
collected one at a time. A metafile model takes its config's EMA run, or
the run of a config without EMA (see :func:`fill_metafile`).
"""
import os
import os.path as osp
import re
import tempfile
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import yaml

from .run_results import RunResult

#: Metric of each README column, and how it is printed.
COLUMNS: Dict[str, Tuple[str, str]] = {
    'box AP': ('coco/bbox_mAP', '{:.3f}'),
    'box AP50': ('coco/bbox_mAP_50', '{:.3f}'),
    'top-1': ('accuracy/top1', '{:.2f}'),
    'top-5': ('accuracy/top5', '{:.2f}'),
    'training (min)': ('train_minutes', '{:.1f}'),
}
#: Metafile metric names (mmdet's and mmpretrain's) of the same metrics.
METAFILE_METRICS = {
    'coco/bbox_mAP': 'box AP',
    'coco/bbox_mAP_50': 'box AP50',
    'accuracy/top1': 'Top 1 Accuracy',
    'accuracy/top5': 'Top 5 Accuracy',
}
VARIANT_COLUMN = 'with EMA'


class _MetafileDumper(yaml.SafeDumper):
    """Indents lists under their key, as the metafiles are written."""

    def increase_indent(self, flow: bool = False, indentless: bool = False):
        return super().increase_indent(flow, False)


def _value(result: RunResult, column: str) -> Optional[str]:
    key, fmt = COLUMNS[column]
    value = (
        result.train_minutes
        if key == 'train_minutes' else result.metrics.get(key))
    return None if value is None else fmt.format(value)


def _cells(line: str) -> List[str]:
    return [c.strip() for c in line.strip().strip('|').split('|')]


def _row(cells: Sequence[str]) -> str:
    return '| ' + ' | '.join(cells) + ' |'


def _linked_config(cells: Sequence[str], results: Dict[Tuple[str, bool],
                                                       RunResult]) -> str:
    names = {config for config, _ in results}
    for cell in cells:
        for name in re.findall(r'\[`?([\w.-]+)`?\]\(', cell):
            if name in names:
                return name
    return ''


def _cell(old: str, config: str, column: str, variant: Optional[bool],
          results: Dict[Tuple[str, bool], RunResult]) -> Optional[str]:
    """The new text of a cell; a part of ``old`` that no run given now
    measures (the EMA value, the ``w/o EMA`` value) is kept."""
    if variant is not None:
        run = results.get((config, variant))
        return None if run is None else _value(run, column)
    kept = re.fullmatch(r'(.*?)(?: \(w/o EMA (.*)\))?', old)
    ema, base = results.get((config, True)), results.get((config, False))
    ema_value = (ema and _value(ema, column)) or kept.group(1)
    base_value = (base and _value(base, column)) or kept.group(2)
    if base_value is None:
        return ema_value
    return f'{ema_value or "-"} (w/o EMA {base_value})'


def fill_readme(text: str, results: Dict[Tuple[str, bool],
                                         RunResult]) -> Tuple[str, int]:
    """``text`` with the result cells of every row that links a config of
    ``results``.

    Args:
        text (str): A Markdown document.
        results (dict): Runs by ``(config name, with EMA)``.

    Returns:
        tuple[str, int]: The new text and the number of cells written.
    """
    lines, header, written = text.split('\n'), None, 0
    for i, line in enumerate(lines):
        if not line.startswith('|'):
            header = None
            continue
        cells = _cells(line)
        if header is None:
            header = cells
            continue
        config = _linked_config(cells, results)
        if not config or len(cells) != len(header):
            continue
        variant = None
        if VARIANT_COLUMN in header:
            variant = cells[header.index(VARIANT_COLUMN)] == 'yes'
        for j, title in enumerate(header):
            if title in COLUMNS:
                value = _cell(cells[j], config, title, variant, results)
                if value is not None and value != cells[j]:
                    cells[j] = value
                    written += 1
        lines[i] = _row(cells)
    return '\n'.join(lines), written


def fill_metafile(
        text: str, results: Dict[Tuple[str, bool],
                                 RunResult]) -> Tuple[str, int]:
    """A metafile's text with each model's ``Results`` from its run: the
    EMA run of a model whose ``Architecture`` lists EMA, else the run of
    the config as it is (an ablation's attention, a baseline).

    The leading comment lines are kept; the rest is written back by
    PyYAML in the metafile's key order.

    Returns:
        tuple[str, int]: The new text and the number of models written.
    """
    comments = re.match(r'(?:#.*\n)*', text).group(0)
    meta = yaml.safe_load(text)
    written = 0
    for model in meta.get('Models', []):
        with_ema = 'EMA' in model['Metadata'].get('Architecture', [])
        run = results.get((model['Name'], with_ema))
        if run is None:
            continue
        result = model['Results'][0]
        result['Metrics'] = {
            METAFILE_METRICS[k]: round(v, 4)
            for k, v in run.metrics.items() if k in METAFILE_METRICS
        }
        result['Epochs'] = run.epochs or run.iterations
        result['Date'] = run.date
        result['Training Resources'] = run.devices
        result['Evaluated On'] = run.split
        written += 1
    if not written:
        return text, 0
    body = yaml.dump(
        meta,
        Dumper=_MetafileDumper,
        sort_keys=False,
        allow_unicode=True,
        width=1000)
    return comments + body, written


def rewrite(path: str,
            transform: Callable[[str], Tuple[str, int]],
            write: bool = True) -> int:
    """Apply ``transform`` to a file's text and, if ``write`` and the text
    changed, replace the file atomically (a failure leaves it as it was).

    Returns:
        int: The count ``transform`` reports.
    """
    with open(path, encoding='utf-8') as f:
        old = f.read()
    new, count = transform(old)
    if not write or new == old:
        return count
    fd, tmp = tempfile.mkstemp(dir=osp.dirname(osp.abspath(path)))
    with os.fdopen(fd, 'w', encoding='utf-8') as f:
        f.write(new)
    os.replace(tmp, path)
    return count
