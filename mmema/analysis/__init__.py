# Copyright (c) mmema contributors. All rights reserved.
"""Analysis helpers: the paper's numbers to compare measurements with."""
from .paper_numbers import (ATTENTIONS, PAPER_TABLES, PaperRow, PaperTable,
                            get_paper_table)

__all__ = [
    'ATTENTIONS', 'PAPER_TABLES', 'PaperRow', 'PaperTable', 'get_paper_table'
]
