# Copyright (c) mmema contributors. All rights reserved.
"""tools/dataset_converters/visdrone2coco.py run as a user would."""
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import List

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / 'tools' / 'dataset_converters' / 'visdrone2coco.py'

# A car, an ignored region, a zero-height box; a van and a malformed line.
ANNOTATIONS = {
    'a': '40,20,30,15,1,4,1,2\n60,0,20,10,0,0,0,0\n5,5,9,0,1,4,0,0\n',
    'b': '20,30,10,10,1,5,0,0\n20,30,10\n',
}


@pytest.fixture
def split(tmp_path) -> Path:
    split = tmp_path / 'VisDrone2019-DET-val'
    (split / 'images').mkdir(parents=True)
    (split / 'annotations').mkdir()
    for stem, text in ANNOTATIONS.items():
        Image.fromarray(np.zeros((64, 96, 3), np.uint8)).save(
            split / 'images' / f'{stem}.jpg')
        (split / 'annotations' / f'{stem}.txt').write_text(text)
    return split


def convert(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *args],
                          cwd=REPO,
                          capture_output=True,
                          text=True,
                          timeout=300,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))


def test_malformed_line_stops_with_file_and_line(split, tmp_path):
    out = tmp_path / 'val.json'
    proc = convert(str(split), str(out))
    assert proc.returncode == 1
    assert f'{split}/annotations/b.txt:2' in proc.stderr
    assert '--skip-bad' in proc.stderr and 'Traceback' not in proc.stderr
    assert not out.exists()


def test_skip_bad_converts_and_never_overwrites(split, tmp_path):
    out = tmp_path / 'annotations' / 'val.json'
    proc = convert(str(split), str(out), '--skip-bad')
    assert proc.returncode == 0, proc.stderr
    assert '2/2' in proc.stdout  # the progress bar over images
    summary: List[str] = proc.stdout.split(f'wrote {out}\n')[1].splitlines()
    assert summary[:5] == [
        'images: 2',
        'boxes: 2 (pedestrian 0, people 0, bicycle 0, car 1, van 1, '
        'truck 0, tricycle 0, awning-tricycle 0, bus 0, motor 0)',
        'ignored as crowd boxes: 1 (ignored region (0) 1, others (11) 0)',
        'zero-size boxes dropped: 1',
        'malformed lines skipped: 1',
    ]
    assert 'b.txt:2' in summary[5]
    coco = json.loads(out.read_text())
    assert len(coco['images']) == 2
    assert sum(a['iscrowd'] for a in coco['annotations']) == 10
    assert len(coco['annotations']) == 12

    # A second run never replaces the json without --overwrite.
    before = out.read_bytes()
    proc = convert(str(split), str(out), '--skip-bad')
    assert proc.returncode == 2 and '--overwrite' in proc.stderr
    assert out.read_bytes() == before
