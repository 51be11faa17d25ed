# Copyright (c) mmema contributors. All rights reserved.
"""tools/analysis_tools/collect_results.py: result cells from finished runs.

End to end: a tiny CIFAR-style ResNet-50-EMA trains one epoch with
tools/train.py, its baseline (``plugins=None``) likewise, tools/test.py
tests the EMA checkpoint into the EMA run's work dir; the tool then fills a
README row and a metafile entry with what the logs printed. The demo's own
run is collected in tests/test_demo/test_demo_run.py. The parsing of a
GPU run's environment block, which no CPU run writes, and the refusals
use hand-written work dirs.
"""
import datetime
import json
import re
import sys
from pathlib import Path

import pytest
import yaml
from test_classification_tools import (run_tool, write_folder_config,
                                       write_image_folder)

from mmema.analysis.run_results import devices_from_log, read_run

TOOL = 'tools/analysis_tools/collect_results.py'
README = """# Results

| Config | Input | top-1 | top-5 | training (min) |
|---|---|---|---|---|
| [tiny_ema](configs/tiny_ema.py) | 32x32 | - | - | - |
| [other](configs/other.py) | 32x32 | 1.00 | - | - |

| run | Config | with EMA | top-1 |
|---|---|---|---|
| EMA | [tiny_ema](configs/tiny_ema.py) | yes | - |
| baseline | [tiny_ema](configs/tiny_ema.py) | no | - |
"""
METAFILE = """# A metafile header comment, kept.
Collections:
  - Name: Tiny
Models:
  - Name: tiny_ema
    In Collection: Tiny
    Config: configs/tiny_ema.py
    Metadata:
      Parameters: 1
      Architecture:
        - ResNet
        - EMA
    Results:
      - Task: Image Classification
        Dataset: folders
        Metrics: {}
"""


def top1(log: str, mode: str) -> str:
    return re.findall(rf'Epoch\({mode}\).*accuracy/top1: ([0-9.]+)', log)[-1]


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """EMA and baseline work dirs of tiny_ema.py, the EMA one tested."""
    tmp = tmp_path_factory.mktemp('runs')
    write_image_folder(tmp / 'data' / 'train', images_per_class=4)
    write_image_folder(tmp / 'data' / 'val', images_per_class=2)
    config = tmp / 'tiny_ema.py'
    write_folder_config(config, tmp / 'data')
    ema_dir, base_dir = tmp / 'ema', tmp / 'baseline'
    logs = {
        'ema_train':
        run_tool('tools/train.py', str(config), '--work-dir', str(ema_dir)),
        'base_train':
        run_tool('tools/train.py', str(config), '--work-dir', str(base_dir),
                 '--cfg-options', 'model.backbone.plugins=None'),
    }
    logs['ema_test'] = run_tool('tools/test.py', str(config),
                                str(ema_dir / 'epoch_1.pth'), '--work-dir',
                                str(ema_dir))
    return tmp, ema_dir, base_dir, logs


def test_fills_readme_cells_and_metafile_from_the_runs(trained, tmp_path):
    _, ema_dir, base_dir, logs = trained
    readme, metafile = tmp_path / 'README.md', tmp_path / 'configs'
    readme.write_text(README)
    metafile.mkdir()
    (metafile / 'metafile.yml').write_text(METAFILE)
    out = run_tool(TOOL, str(ema_dir), str(base_dir), '--readme', str(readme),
                   '--metafiles', str(metafile))
    assert 'README.md: 4 cells written.' in out
    ema = float(top1(logs['ema_test'], 'test'))
    base = float(top1(logs['base_train'], 'val'))
    minutes = [read_run(str(d)).train_minutes for d in (ema_dir, base_dir)]
    text = readme.read_text()
    assert (f'| [tiny_ema](configs/tiny_ema.py) | 32x32 | {ema:.2f} (w/o '
            f'EMA {base:.2f}) | - | {minutes[0]:.1f} (w/o EMA '
            f'{minutes[1]:.1f}) |') in text
    rows = {
        line.split('|')[1].strip(): line
        for line in text.splitlines() if line.startswith('|')
    }
    assert rows['EMA'].endswith(f'| yes | {ema:.2f} |')
    assert rows['baseline'].endswith(f'| no | {base:.2f} |')
    assert rows['[other](configs/other.py)'].endswith('| 1.00 | - | - |')
    # top-5 is not measured with 3 classes and topk=(1, ): left as it was.
    meta_text = (metafile / 'metafile.yml').read_text()
    assert meta_text.startswith('# A metafile header comment, kept.\n')
    result = yaml.safe_load(meta_text)['Models'][0]['Results'][0]
    assert result['Metrics'] == {'Top 1 Accuracy': ema}
    assert result['Epochs'] == 1
    assert result['Date'] == datetime.date.today().isoformat()
    assert result['Training Resources'] == 'CPU, 1 process'
    assert result['Evaluated On'] == 'test'


def test_runs_collected_one_at_a_time_keep_each_others_part(trained, tmp_path):
    _, ema_dir, base_dir, logs = trained
    readme = tmp_path / 'README.md'
    readme.write_text(README)
    for work_dir in (base_dir, ema_dir):
        run_tool(TOOL, str(work_dir), '--readme', str(readme), '--metafiles',
                 str(tmp_path))
    ema = float(top1(logs['ema_test'], 'test'))
    base = float(top1(logs['base_train'], 'val'))
    assert (f'| [tiny_ema](configs/tiny_ema.py) | 32x32 | {ema:.2f} (w/o '
            f'EMA {base:.2f}) | - |') in readme.read_text()


def test_without_a_test_run_the_last_validation_counts(trained):
    _, _, base_dir, logs = trained
    result = read_run(str(base_dir))
    assert (result.config, result.with_ema, result.split) == ('tiny_ema',
                                                              False, 'val')
    printed = float(top1(logs['base_train'], 'val'))  # 2 decimals
    assert result.metrics['accuracy/top1'] == pytest.approx(printed, abs=5e-3)
    assert (result.epochs, result.iterations) == (1, 3)


def test_dry_run_changes_nothing(trained, tmp_path):
    _, ema_dir, _, _ = trained
    readme = tmp_path / 'README.md'
    readme.write_text(README)
    out = run_tool(TOOL, str(ema_dir), '--readme', str(readme), '--metafiles',
                   str(tmp_path), '--dry-run')
    assert 'cells to write (--dry-run)' in out
    assert readme.read_text() == README


def write_run(work_dir: Path, log_head: str, scalars: str) -> None:
    run = work_dir / '20261130_101500'
    (run / 'vis_data').mkdir(parents=True)
    (work_dir / 'cfg.py').write_text("model = dict(type='ImageClassifier')\n")
    (run / '20261130_101500.log').write_text(log_head)
    (run / 'vis_data' / 'scalars.json').write_text(scalars)


GPU_LOG = """2026/11/30 10:15:00 - mmengine - INFO -
------------------------------------------------------------
System environment:
    sys.platform: linux
    CUDA available: True
    GPU 0,1,2,3,4,5,6,7: NVIDIA A100-SXM4-80GB
    CUDA_HOME: /usr/local/cuda

Runtime environment:
    Distributed launcher: pytorch
    Distributed training: True
    GPU number: 8
------------------------------------------------------------
2026/11/30 10:20:00 - mmengine - INFO - Epoch(train) [1][10/10] loss: 1.0
"""


def test_gpu_environment_block(tmp_path):
    train = json.dumps(dict(loss=1.0, epoch=1, iter=10, step=10))
    val = json.dumps({'accuracy/top1': 42.5, 'step': 1})
    write_run(tmp_path, GPU_LOG, f'{train}\n{val}\n')
    result = read_run(str(tmp_path))
    assert result.devices == '8x NVIDIA A100-SXM4-80GB'
    assert (result.date, result.train_minutes) == ('2026-11-30', 5.0)
    assert result.metrics == {'accuracy/top1': 42.5}
    log = tmp_path / 'mixed.log'
    log.write_text(
        GPU_LOG.replace('GPU 0,1,2,3,4,5,6,7: NVIDIA A100-SXM4-80GB',
                        'GPU 0: NVIDIA A100\n    GPU 1: NVIDIA H100'))
    assert devices_from_log(str(log)) == '8x NVIDIA A100 + NVIDIA H100'


@pytest.mark.parametrize('scalars,message', [
    ('{"loss": 1.0, "epoch": 1, "step": 3}\n{"accura',
     r'scalars\.json, line 2, is not JSON'),
    ('{"accuracy/top1": 1.0, "step": 1}\n', 'holds no training run'),
    ('{"loss": 1.0, "epoch": 1, "step": 3}\n', 'logged no metrics'),
])
def test_broken_runs_are_named_and_the_readme_kept(tmp_path, scalars, message):
    write_run(tmp_path / 'work', GPU_LOG, scalars)
    readme = tmp_path / 'README.md'
    readme.write_text(README)
    with pytest.raises(ValueError, match=message):
        read_run(str(tmp_path / 'work'))
    from tool_runs import run
    proc = run([
        sys.executable, TOOL,
        str(tmp_path / 'work'), '--readme',
        str(readme), '--metafiles',
        str(tmp_path)
    ], tmp_path)
    assert proc.returncode == 1 and 'collect_results.py: ' in proc.stderr
    assert readme.read_text() == README
