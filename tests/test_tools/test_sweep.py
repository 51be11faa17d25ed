# Copyright (c) mmema contributors. All rights reserved.
"""tools/analysis_tools/sweep.py end to end: the real CIFAR-100 ablation
configs, inherited by tiny-data wrappers, trained and tested through
tools/train.py and tools/test.py with a shrunk schedule."""
import csv
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import List

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
SWEEP = REPO / 'tools' / 'analysis_tools' / 'sweep.py'
ABLATIONS = REPO / 'configs' / 'ablations'
SHRUNK_SCHEDULE = [
    'train_cfg.max_epochs=1', 'default_hooks.logger.interval=1',
    'train_dataloader.batch_size=4', 'test_dataloader.batch_size=4'
]
TINY_DATA_CONFIG = """_base_ = '{base}'
tiny = dict(
    _delete_=True,
    type='CustomDataset',
    data_root='{data}',
    pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])
train_dataloader = dict(num_workers=0, persistent_workers=False, dataset=tiny)
val_dataloader = dict(num_workers=0, persistent_workers=False, dataset=tiny)
test_dataloader = dict(num_workers=0, persistent_workers=False, dataset=tiny)
"""


def write_tiny_images(root: Path) -> None:
    """Two classes of four 32x32 images, a CustomDataset folder tree."""
    rng = np.random.default_rng(0)
    for label in ('apple', 'bee'):
        (root / label).mkdir(parents=True)
        for index in range(4):
            pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f'{index}.png')


def tiny_configs(tmp_path: Path, names: List[str]) -> List[str]:
    """Wrappers named like the ablations they inherit, on tiny data."""
    write_tiny_images(tmp_path / 'data')
    configs = []
    for name in names:
        path = tmp_path / 'configs' / f'{name}.py'
        path.parent.mkdir(exist_ok=True)
        path.write_text(
            TINY_DATA_CONFIG.format(
                base=ABLATIONS / f'{name}.py', data=tmp_path / 'data'))
        configs.append(str(path))
    return configs


def run_sweep(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SWEEP), *args],
                          capture_output=True,
                          text=True,
                          cwd=str(REPO))


def test_sweep_trains_and_tests_each_config_into_one_table(
        tmp_path: Path) -> None:
    configs = tiny_configs(
        tmp_path, ['resnet50-baseline_cifar100', 'resnet50-ema_cifar100'])
    work_dir = tmp_path / 'sweep'
    result = run_sweep(*configs, '--work-dir', str(work_dir), '--seed', '7',
                       '--paper', 'cifar100_resnet50', '--cfg-options',
                       *SHRUNK_SCHEDULE)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(work_dir / 'results.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert [(r['config'], r['attention'], r['status']) for r in rows] == [
        ('resnet50-baseline_cifar100', 'baseline', 'ok'),
        ('resnet50-ema_cifar100', 'EMA', 'ok')
    ]
    for row in rows:
        top1, top5 = float(row['accuracy/top1']), float(row['accuracy/top5'])
        assert 0 <= top1 <= top5 <= 100
    assert [(float(r['paper top1']), float(r['paper top5'])) for r in rows
            ] == [(77.26, 93.63), (80.69, 95.59)]
    markdown = (work_dir / 'results.md').read_text()
    assert markdown.startswith('Seed 7; paper: CIFAR-100, ResNet-50')
    assert '| resnet50-ema_cifar100 | EMA | ok |' in markdown
    assert markdown in result.stdout
    for row in rows:
        run_dir = work_dir / row['config']
        # One epoch of two iterations, trained with the sweep's seed.
        assert (run_dir / 'epoch_1.pth').is_file()
        dumped = (run_dir / f"{row['config']}.py").read_text()
        assert 'seed=7' in dumped and 'max_epochs=1' in dumped
        assert len(list((run_dir / 'test').glob('*/*.json'))) == 1


def test_failed_run_becomes_a_row_and_the_sweep_goes_on(
        tmp_path: Path, monkeypatch) -> None:
    sweep = load_sweep_tool()
    failing = tmp_path / 'failing_train.py'
    failing.write_text('import sys\nsys.exit(3)\n')
    monkeypatch.setattr(sweep, 'TRAIN_SCRIPT', str(failing))
    configs = [
        str(ABLATIONS / f'resnet50-{name}_cifar100.py')
        for name in ('se', 'baseline')
    ]
    monkeypatch.setattr(
        sys, 'argv',
        ['sweep.py', *configs, '--work-dir',
         str(tmp_path / 'sweep')])
    with pytest.raises(SystemExit) as error:
        sweep.main()
    assert error.value.code == 1
    with open(tmp_path / 'sweep' / 'results.csv', newline='') as f:
        rows = list(csv.DictReader(f))
    assert [(r['config'], r['attention']) for r in rows] == [
        ('resnet50-se_cifar100', 'SE'), ('resnet50-baseline_cifar100',
                                         'baseline')
    ]
    for row in rows:
        assert row['status'].startswith('train failed (exit 3), see ')


def load_sweep_tool():
    spec = importlib.util.spec_from_file_location('sweep', SWEEP)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dry_run_prints_distributed_commands(tmp_path: Path, monkeypatch,
                                             capsys) -> None:
    config = str(ABLATIONS / 'resnet50-se_cifar100.py')
    monkeypatch.setattr(sys, 'argv', [
        'sweep.py', config, '--work-dir',
        str(tmp_path), '--gpus', '2', '--dry-run', '--cfg-options',
        'train_cfg.max_epochs=2'
    ])
    load_sweep_tool().main()
    train, test = capsys.readouterr().out.strip().splitlines()
    for line in (train, test):
        assert line.startswith(
            f'{sys.executable} -m torch.distributed.run --nproc_per_node=2 ')
        assert line.endswith('--cfg-options randomness.seed=0 '
                             'train_cfg.max_epochs=2 --launcher pytorch')
    assert f'--work-dir {tmp_path}/resnet50-se_cifar100 --resume' in train
    assert f'--work-dir {tmp_path}/resnet50-se_cifar100/test' in test
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize('args, message', [
    (['missing.py'], 'config files not found'),
    ([str(ABLATIONS / 'resnet50-se_cifar100.py')] * 2, 'share the names'),
    ([str(ABLATIONS / 'resnet50-se_cifar100.py'), '--cfg-options', 'x'],
     'KEY=VALUE'),
    ([str(ABLATIONS / 'resnet50-se_cifar100.py'), '--cfg-options',
      'randomness.seed=3'], 'with --seed'),
    ([str(ABLATIONS / 'resnet50-se_cifar100.py'), '--gpus', '0'],
     '--gpus must be >= 1'),
])
def test_bad_arguments_are_refused(args: List[str], message: str,
                                   monkeypatch, capsys) -> None:
    monkeypatch.setattr(sys, 'argv', ['sweep.py', *args, '--dry-run'])
    with pytest.raises(SystemExit) as error:
        load_sweep_tool().parse_args()
    assert error.value.code == 2
    assert message in capsys.readouterr().err
