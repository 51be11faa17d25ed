# Copyright (c) mmema contributors. All rights reserved.
"""Markdown tables and counts as the tools print them."""
from mmema.analysis.markdown_table import format_count, format_table


def test_format_table_pads_columns():
    assert format_table(['a', 'bb'], [['ccc', 'd']]).splitlines() == [
        '| a   | bb |', '|-----|----|', '| ccc | d  |'
    ]


def test_format_count():
    assert format_count(23_705_252) == '23.71'
    assert format_count(1_304_911_872, 1e9, 3) == '1.305'
