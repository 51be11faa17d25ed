# Copyright (c) mmema contributors. All rights reserved.
"""Tiny VisDrone2019-DET splits in the official layout, written per test."""
from pathlib import Path
from typing import Callable, Dict, Tuple

import numpy as np
import pytest
from PIL import Image

# image stem -> annotation file text (official format).
SplitWriter = Callable[[Dict[str, str], Tuple[int, int]], Path]


@pytest.fixture
def write_visdrone_split(tmp_path) -> SplitWriter:
    """Return ``write(annotations, size=(w, h)) -> split_dir``.

    Writes ``images/<stem>.jpg`` (random pixels of the given size) and
    ``annotations/<stem>.txt`` for each entry.
    """

    def write(annotations: Dict[str, str],
              size: Tuple[int, int] = (96, 64)) -> Path:
        split = tmp_path / 'VisDrone2019-DET-train'
        (split / 'images').mkdir(parents=True)
        (split / 'annotations').mkdir()
        rng = np.random.default_rng(0)
        for stem, text in annotations.items():
            pixels = rng.integers(0, 255, (size[1], size[0], 3), np.uint8)
            Image.fromarray(pixels).save(split / 'images' / f'{stem}.jpg')
            (split / 'annotations' / f'{stem}.txt').write_text(text)
        return split

    return write
