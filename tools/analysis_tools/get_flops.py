# Copyright (c) mmema contributors. All rights reserved.
"""Parameters and FLOPs of a config's model, with and without EMA.

    python tools/analysis_tools/get_flops.py CONFIG [--shape H [W]]
        [--paper [TABLE]] [--cfg-options KEY=VALUE ...]

Counts come from ``mmengine.analysis`` on one forward pass of a random
image (batch 1) in eval mode. The baseline is the same config with every
EMA removed (``plugins`` entries, ``plugin_cfg``). ``--paper`` adds the
paper's Params/GFLOPs cells for the matching (or named) table.
"""
import argparse
from typing import List, Optional, Sequence


from mmema.analysis.complexity import (Complexity,
                                       compare_with_and_without_ema)
from mmema.analysis.input_shape import default_input_shape
from mmema.analysis.markdown_table import format_count, format_table
from mmema.analysis.paper_lookup import paper_table_for
from mmema.analysis.paper_numbers import (PAPER_TABLES, PaperTable,
                                          get_paper_table)
from mmema.engine import add_cfg_options, load_config


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Params and FLOPs of a model with and without EMA')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--shape',
        type=int,
        nargs='+',
        help='input size: H [W] (default: from the config\'s pipeline, '
        'e.g. 800 1344 for COCO detectors, 32 for CIFAR)')
    parser.add_argument(
        '--paper',
        nargs='?',
        const='auto',
        choices=['auto', *PAPER_TABLES],
        help='also print the paper\'s Params/GFLOPs cells; without a value, '
        'the table that matches the config\'s data set and backbone')
    add_cfg_options(parser, 'model.backbone.depth=101')
    args = parser.parse_args(argv)
    if args.shape is not None and len(args.shape) not in (1, 2):
        parser.error(f'--shape takes H or H W, got {args.shape}.')
    return args


def paper_cells(paper: PaperTable, attention: str) -> List[str]:
    """The paper's Params and GFLOPs for ``attention``; '-' where the table
    has no such row or cell."""
    if attention not in paper.attentions:
        return ['-', '-']
    row = paper.row(attention)
    return [
        f'{row.params_m:.{row.params_decimals}f}',
        '-' if row.gflops is None else f'{row.gflops:g}'
    ]


def complexity_table(rows: List[Complexity],
                     paper: Optional[PaperTable]) -> str:
    """Rows of measurements (and paper cells) as a Markdown table."""
    header = ['model', 'Params (M)', 'GFLOPs', 'EMA Params (M)', 'EMA GFLOPs']
    yolo_counting = paper is not None and paper.flops_per_multiply_add != 1
    operators = () if paper is None else paper.flops_operators
    if yolo_counting:
        header += [
            'Params (M), BN folded',
            f'GFLOPs x{paper.flops_per_multiply_add}'
        ]
    if operators:
        header.append(f'GFLOPs ({"+".join(operators)})')
    if paper is not None:
        header += ['paper Params (M)', 'paper GFLOPs']
    cells = []
    for row in rows:
        line = [
            row.name,
            format_count(row.params),
            format_count(row.flops, 1e9, 3),
            format_count(row.ema_params, 1e6, 3),
            format_count(row.ema_flops, 1e9, 3)
        ]
        if yolo_counting:
            line += [
                format_count(row.params_bn_folded),
                format_count(row.flops * paper.flops_per_multiply_add, 1e9,
                             3)
            ]
        if operators:
            line.append(
                format_count(
                    sum(row.flops_by_operator.get(op, 0) for op in operators),
                    1e9, 3))
        if paper is not None:
            line += paper_cells(paper, row.attention)
        cells.append(line)
    return format_table(header, cells)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    cfg = load_config(args)
    if args.shape is None:
        shape = default_input_shape(cfg)
    else:
        shape = (args.shape[0], args.shape[-1])
    paper = None
    if args.paper == 'auto':
        try:
            paper = paper_table_for(cfg)
        except KeyError as error:
            raise SystemExit(error.args[0]) from error
    elif args.paper is not None:
        paper = get_paper_table(args.paper)

    rows = compare_with_and_without_ema(cfg, shape)
    print(f'{args.config}: input (1, 3, {shape[0]}, {shape[1]})')
    print(complexity_table(rows, paper))
    if len(rows) == 2:
        added = rows[0].params - rows[1].params
        print(f'EMA adds {added:,} parameters '
              f'({100 * added / rows[1].params:+.2f}%) and '
              f'{format_count(rows[0].flops - rows[1].flops, 1e9, 3)} GFLOPs.')
    if paper is not None:
        print(f'paper cells: {paper.title} (paper model: {paper.model}, '
              f'input {paper.input_size[0]}x{paper.input_size[1]})')
        if paper.counting:
            print(f'paper counting: {paper.counting}.')
    print('FLOPs as counted by mmengine.analysis (one multiply-add = 1 FLOP).')


if __name__ == '__main__':
    main()
