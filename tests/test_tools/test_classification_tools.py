# Copyright (c) mmema contributors. All rights reserved.
"""The CIFAR-100 EMA config through tools/train.py and tools/test.py.

mmpretrain's CIFAR100 dataset checks the md5 of the official archive and
would download it, so the run uses the route a user with images in folders
takes: a config that inherits the entry config and swaps in mmpretrain's
``CustomDataset`` over a tiny image folder generated here.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import mmcv
import numpy as np
import torch
from mmengine.config import Config

REPO = Path(__file__).parents[2]
ENTRY_CONFIG = REPO / 'configs' / 'ema_resnet50_cifar100.py'
CLASSES = ('apple', 'bicycle', 'cloud')


def write_image_folder(root: Path, images_per_class: int) -> None:
    """32x32 images, a different mean colour per class: root/<class>/i.png."""
    rng = np.random.default_rng(0)
    for label, name in enumerate(CLASSES):
        for i in range(images_per_class):
            image = rng.integers(0, 64, (32, 32, 3)) + 80 * label
            mmcv.imwrite(image.astype(np.uint8), str(root / name / f'{i}.png'))


def write_folder_config(path: Path, data_root: Path) -> None:
    """The entry config with its CIFAR-100 data swapped for image folders."""
    path.write_text(f"""
_base_ = {str(ENTRY_CONFIG)!r}
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(_delete_=True, type='CustomDataset',
                 data_root={str(data_root)!r}, data_prefix='train',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4, num_workers=0,
    dataset=dict(_delete_=True, type='CustomDataset',
                 data_root={str(data_root)!r}, data_prefix='val',
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=1)
default_hooks = dict(logger=dict(interval=1))
""")


def run_tool(*args: str) -> str:
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(
            [str(REPO), os.environ.get('PYTHONPATH', '')]))
    result = subprocess.run([sys.executable, *args],
                            cwd=REPO,
                            env=env,
                            capture_output=True,
                            text=True,
                            timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


def test_entry_config_is_the_papers_recipe():
    cfg = Config.fromfile(ENTRY_CONFIG)
    assert cfg.custom_imports == dict(
        imports=['mmema'], allow_failed_imports=False)
    assert cfg.model.backbone.type == 'PluginResNet_CIFAR'
    assert cfg.model.backbone.depth == 50
    assert cfg.model.backbone.plugins == [
        dict(
            cfg=dict(type='EMA', factor=32),
            stages=(True, True, True, True),
            position='after_conv3')
    ]
    assert cfg.model.head.num_classes == 100
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.momentum,
            optimizer.weight_decay) == ('SGD', 0.1, 0.9, 5e-4)
    scheduler = cfg.param_scheduler
    assert (scheduler.type, scheduler.milestones,
            scheduler.gamma) == ('MultiStepLR', [60, 120, 160], 0.2)
    assert cfg.train_cfg.max_epochs == 200
    assert cfg.train_dataloader.batch_size == 128
    assert cfg.test_dataloader.batch_size == 128
    assert [t['type'] for t in cfg.train_pipeline
            ] == ['RandomCrop', 'RandomFlip', 'PackInputs']
    assert (cfg.train_pipeline[0]['crop_size'],
            cfg.train_pipeline[0]['padding']) == (32, 4)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = cfg[loader].dataset
        assert (dataset.type,
                dataset.data_root.rstrip('/')) == ('CIFAR100', 'data/cifar100')


def test_train_one_epoch_then_test_prints_top1(tmp_path):
    data_root = tmp_path / 'data'
    write_image_folder(data_root / 'train', images_per_class=4)
    write_image_folder(data_root / 'val', images_per_class=2)
    config = tmp_path / 'ema_resnet50_folder.py'
    write_folder_config(config, data_root)
    work_dir = tmp_path / 'work_dir'

    train_log = run_tool('tools/train.py', str(config), '--work-dir',
                         str(work_dir))
    # 12 images, 4 per batch: three iterations, then validation.
    assert re.search(r'Epoch\(train\) +\[1\]\[ *3/3\]', train_log), (
        train_log[-4000:])
    val_top1 = re.search(r'Epoch\(val\).*accuracy/top1: ([0-9.]+)', train_log)
    assert val_top1 is not None, train_log[-4000:]
    checkpoint = work_dir / 'epoch_1.pth'
    # Our own file, written by mmengine's runner a moment ago.
    state = torch.load(checkpoint, weights_only=False)['state_dict']
    assert sum('.ema_attn.' in key for key in state) == 6 * 16  # bottlenecks

    test_log = run_tool('tools/test.py', str(config), str(checkpoint),
                        '--work-dir', str(tmp_path / 'test_dir'))
    top1 = re.search(r'Epoch\(test\).*accuracy/top1: ([0-9.]+)', test_log)
    assert top1 is not None, test_log[-4000:]
    assert 0.0 <= float(top1.group(1)) <= 100.0
    # Same weights, same images, eval mode: the saved checkpoint reproduces
    # the accuracy measured at the end of training.
    assert top1.group(1) == val_top1.group(1)
