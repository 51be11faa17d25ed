# Copyright (c) mmema contributors. All rights reserved.
"""Plain-text tables (Markdown, or aligned columns) for tools that print
results."""
from typing import Sequence


def format_count(count: float, unit: float = 1e6, decimals: int = 2) -> str:
    """``count`` in ``unit`` (e.g. millions), with ``decimals`` decimals."""
    return f'{count / unit:.{decimals}f}'


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table with padded columns.

    Args:
        header (Sequence[str]): Column titles.
        rows (Sequence[Sequence[str]]): Cells, one sequence per row.

    Returns:
        str: The table, one line per row.
    """
    widths = [
        max(len(str(r[i])) for r in [header, *rows])
        for i in range(len(header))
    ]

    def line(cells: Sequence[str]) -> str:
        return '| ' + ' | '.join(
            str(c).ljust(w) for c, w in zip(cells, widths)) + ' |'

    rule = '|' + '|'.join('-' * (w + 2) for w in widths) + '|'
    return '\n'.join([line(header), rule, *(line(r) for r in rows)])


def print_columns(header: Sequence[str],
                  rows: Sequence[Sequence[str]]) -> None:
    """Print ``header`` and ``rows`` as left-aligned columns two spaces
    apart (the benchmarks' tables)."""
    widths = [
        max(len(r[i]) for r in [header, *rows]) for i in range(len(header))
    ]
    for row in [header, *rows]:
        print('  '.join(cell.ljust(w) for cell, w in zip(row, widths)))
