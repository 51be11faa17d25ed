# Copyright (c) mmema contributors. All rights reserved.
"""Params and FLOPs of every ablation model beside the EMA paper's table.

Builds each config of ``configs/ablations`` (no weights are loaded), counts
its parameters and, unless ``--skip-flops``, its FLOPs as
``get_flops.py`` counts them (:mod:`mmema.analysis.complexity`: the
config's test input, padded as its data preprocessor pads: 32x32 for
CIFAR-100, 800x1344 for Faster R-CNN), and prints one markdown table per
suite with the paper's Params column beside the measured one.

A row whose parameter count does not round to the paper's is marked, with
a note that splits the attention's parameters by stage: the paper's
placement (or implementation) must differ from "after conv3 in every
block" to explain its number, and the note lists the stage subsets of this
placement that would, if any.

Examples::

    python tools/analysis_tools/paper_table.py
    python tools/analysis_tools/paper_table.py --suite coco --skip-flops
    python tools/analysis_tools/paper_table.py --suite cifar100 \\
        --configs configs/ablations/resnet50-ema_cifar100.py --out table.md
"""
import argparse
import glob
import itertools
import os.path as osp
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch.nn as nn
from mmengine.config import Config

from mmema.analysis import PaperTable, get_paper_table
from mmema.analysis.attention_config import attention_of
from mmema.analysis.complexity import build_counting_model, count_flops
from mmema.analysis.input_shape import default_input_shape
from mmema.engine import add_cfg_options

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class Suite(NamedTuple):
    """One family of ablation configs and the paper table it compares to."""
    pattern: str  # glob of configs, relative to the repository root
    paper_key: Optional[str]  # key of mmema.analysis.PAPER_TABLES


SUITES: Dict[str, Suite] = {
    'cifar100':
    Suite('configs/ablations/resnet50-*_cifar100.py', 'cifar100_resnet50'),
    'coco':
    Suite('configs/ablations/faster-rcnn_r50-*_fpn_1x_coco.py', None),
}


@dataclass
class Measurement:
    """What one ablation config measures.

    Args:
        config (str): Config path.
        attention (str): ``'baseline'`` or the attention's class name.
        params (int): Parameters of the whole model.
        stage_params (Dict[int, int]): Attention parameters by backbone
            stage (1-based).
        input_hw (tuple[int, int]): The input FLOPs are counted at.
        flops (int, optional): FLOPs (one multiply-add counts one), None if
            skipped.
    """
    config: str
    attention: str
    params: int
    input_hw: Tuple[int, int]
    stage_params: Dict[int, int] = field(default_factory=dict)
    flops: Optional[int] = None


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Print params (and FLOPs) of every ablation model '
        "beside the EMA paper's table.")
    parser.add_argument(
        '--suite',
        nargs='+',
        choices=list(SUITES),
        default=list(SUITES),
        help='which ablation families to measure (default: all)')
    parser.add_argument(
        '--configs',
        nargs='+',
        help='measure these configs instead of the suite\'s glob (needs '
        'exactly one --suite, which sets the paper table)')
    parser.add_argument(
        '--skip-flops',
        action='store_true',
        help='count parameters only (FLOPs at 800x1333 take ~10 s per '
        'Faster R-CNN on a CPU)')
    parser.add_argument('--out', help='also write the markdown to this file')
    add_cfg_options(parser, 'model.backbone.depth=101')
    args = parser.parse_args()
    if args.configs and len(args.suite) != 1:
        parser.error('--configs needs exactly one --suite (its paper '
                     'table), e.g. --suite cifar100.')
    return args


def stage_params_of(model: nn.Module, attention: str) -> Dict[int, int]:
    """Parameters of the attention modules, summed per backbone stage."""
    per_stage: Dict[int, int] = defaultdict(int)
    for name, module in model.named_modules():
        stage = re.search(r'backbone\.layer(\d+)\.', name + '.')
        if stage and type(module).__name__ in attention.split('+'):
            count = sum(p.numel() for p in module.parameters())
            per_stage[int(stage.group(1))] += count
    return dict(sorted(per_stage.items()))


def measure(config: str, skip_flops: bool,
            cfg_options: Optional[dict]) -> Measurement:
    """Build ``config``'s model and measure it."""
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    scope = cfg.get('default_scope')
    model = build_counting_model(cfg.model, scope)
    attention = attention_of(cfg.model, scope)
    result = Measurement(
        config=config,
        attention=attention,
        params=sum(p.numel() for p in model.parameters()),
        input_hw=default_input_shape(cfg),
        stage_params=stage_params_of(model, attention))
    if not skip_flops:
        result.flops = count_flops(model, result.input_hw).by_module['']
    return result


def matching_stage_subsets(result: Measurement, baseline_params: int,
                           paper_params_m: float,
                           rounding_m: float) -> List[Tuple[int, ...]]:
    """Subsets of the attention's stages whose parameters, added to the
    measured baseline, round to the paper's count."""
    stages = list(result.stage_params)
    subsets = []
    for size in range(1, len(stages) + 1):
        for subset in itertools.combinations(stages, size):
            total = baseline_params + sum(result.stage_params[s]
                                          for s in subset)
            if abs(total / 1e6 - paper_params_m) <= rounding_m + 1e-9:
                subsets.append(subset)
    return subsets


def placement_note(result: Measurement, baseline: Optional[Measurement],
                   table: PaperTable) -> str:
    """Why the measured count cannot be the paper's, by stage."""
    row = table.row(result.attention)
    by_stage = ', '.join(f'stage {s} {n / 1e6:.3f}M'
                         for s, n in result.stage_params.items())
    note = (f'{result.attention}: {result.params / 1e6:.3f}M here '
            f'({by_stage}); the paper prints {row.params_m}M, so its '
            'placement (or implementation) must differ from this one.')
    if baseline is not None and result.stage_params:
        subsets = matching_stage_subsets(result, baseline.params,
                                         row.params_m, row.params_rounding_m)
        matches = '; '.join('stages ' + '+'.join(map(str, s))
                            for s in subsets)
        note += (' Stage subsets of this placement that give the paper\'s '
                 f'count: {matches or "none"}.')
    return note


def render(suite: str, results: Sequence[Measurement]) -> str:
    """One markdown table (and notes) for ``suite``."""
    spec = SUITES[suite]
    table = get_paper_table(spec.paper_key) if spec.paper_key else None
    sizes = sorted({f'{r.input_hw[0]}x{r.input_hw[1]}' for r in results})
    baseline = next((r for r in results if r.attention == 'baseline'), None)
    lines = [
        f'### {suite}: params, FLOPs at {", ".join(sizes)}' +
        (f', paper: {table.title}' if table else ', paper: no table'), '',
        '| Config | Attention | Params (M) | Paper params (M) | '
        'Matches paper | GFLOPs |', '|---|---|---:|---:|:---:|---:|'
    ]
    notes = []
    for result in results:
        paper, match = '-', '-'
        if table is not None and result.attention in table.attentions:
            row = table.row(result.attention)
            paper = f'{row.params_m:.{row.params_decimals}f}'
            match = 'yes' if row.params_match(result.params) else 'NO *'
            if match != 'yes':
                notes.append(placement_note(result, baseline, table))
        flops = '-' if result.flops is None else f'{result.flops / 1e9:.3f}'
        lines.append(f'| {osp.basename(result.config)} | {result.attention} '
                     f'| {result.params / 1e6:.3f} | {paper} | {match} '
                     f'| {flops} |')
    if notes:
        lines += [''] + [f'\\* {note}' for note in notes]
    if any(r.flops is not None for r in results):
        lines += [
            '', 'FLOPs count one multiply-add as one FLOP, convolutions, '
            'matmuls and norms only (mmengine.analysis); element-wise gating '
            'is not counted.'
        ]
    return '\n'.join(lines) + '\n'


def main() -> None:
    args = parse_args()
    sections = []
    for suite in args.suite:
        spec = SUITES[suite]
        configs = args.configs or sorted(
            glob.glob(osp.join(REPO_ROOT, spec.pattern)))
        if not configs:
            raise FileNotFoundError(
                f'No config matches {spec.pattern} under {REPO_ROOT}.')
        results = [
            measure(config, args.skip_flops, args.cfg_options)
            for config in configs
        ]
        sections.append(render(suite, results))
    markdown = '\n'.join(sections)
    print(markdown)
    if args.out:
        with open(args.out, 'w', encoding='utf-8') as f:
            f.write(markdown)


if __name__ == '__main__':
    main()
