# Copyright (c) mmema contributors. All rights reserved.
"""tools/train.py, tools/test.py and tools/dist_train.sh run as a user would.

Subprocesses train ``configs/ema_faster-rcnn_r50.py`` (inherited by a test
config that points it at a tiny COCO set written here: two 96 px images)
for a couple of iterations, crash a run and resume it, evaluate the
checkpoint with COCO bbox mAP, and train with two gloo processes.
"""
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from tool_runs import (CRASH_HOOK, REPO, crash_config, crash_then_resume,
                       free_port, run, sha256)

import mmema  # noqa: F401  (weights-only loading of the checkpoints)

ENTRY_CONFIG = REPO / 'configs' / 'ema_faster-rcnn_r50.py'

# Two images, 2 iterations per epoch at batch size 1.
TINY_CONFIG = f"""
_base_ = {str(ENTRY_CONFIG)!r}
data_root = '{{root}}/'
metainfo = dict(classes=('person', 'car'))
# No ImageNet download; two classes; fewer proposals and sampled RoIs.
model = dict(
    backbone=dict(init_cfg=None),
    roi_head=dict(bbox_head=dict(num_classes=2)),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=200, max_per_img=100),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=200, max_per_img=100)))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=(128, 96), keep_ratio=True),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(128, 96), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor'))
]
train_dataloader = dict(
    batch_size=1, num_workers=0, persistent_workers=False,
    sampler=dict(shuffle=False),
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/train.json',
                 data_prefix=dict(img='images/'), pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/val.json',
                 data_prefix=dict(img='images/'), pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator
"""

SHORT_RUN = [
    '--cfg-options', 'train_cfg.max_epochs=2',
    'default_hooks.logger.interval=1'
]


def write_tiny_coco(root: Path) -> None:
    """Two 96x96 images with a bright 'person' and 'car' box each."""
    (root / 'images').mkdir(parents=True)
    (root / 'annotations').mkdir()
    rng = np.random.default_rng(0)
    images, annotations = [], []
    for image_id in (1, 2):
        pixels = rng.integers(0, 60, (96, 96, 3), np.uint8)
        boxes = [(1, [8 + 8 * image_id, 10, 24, 40]),
                 (3, [50, 40 + 4 * image_id, 36, 20])]
        for category_id, (x, y, w, h) in boxes:
            pixels[y:y + h, x:x + w] = (220, 40 * category_id, 90)
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=image_id,
                    category_id=category_id,
                    bbox=[x, y, w, h],
                    area=w * h,
                    iscrowd=0))
        name = f'{image_id:06d}.jpg'
        Image.fromarray(pixels).save(root / 'images' / name)
        images.append(dict(id=image_id, file_name=name, width=96, height=96))
    coco = dict(
        images=images,
        annotations=annotations,
        categories=[dict(id=1, name='person'),
                    dict(id=3, name='car')])
    for split in ('train', 'val'):
        (root / 'annotations' / f'{split}.json').write_text(json.dumps(coco))


@pytest.fixture(scope='module')
def tiny(tmp_path_factory) -> Path:
    """A folder with the tiny COCO set, tiny.py and the crash config."""
    tmp = tmp_path_factory.mktemp('detection_tools')
    write_tiny_coco(tmp / 'coco')
    (tmp / 'tiny.py').write_text(TINY_CONFIG.format(root=tmp / 'coco'))
    (tmp / 'tiny_crash.py').write_text(crash_config(iteration=2))
    (tmp / 'crash_hook.py').write_text(CRASH_HOOK)
    return tmp


@pytest.fixture(scope='module')
def crashed_then_resumed(tiny) -> dict:
    """Train 2 epochs, crash in epoch 2, then ``--resume``."""
    return crash_then_resume(tiny, SHORT_RUN)


def test_crash_leaves_the_last_epoch_checkpoint(crashed_then_resumed):
    crashed = crashed_then_resumed['crashed']
    assert crashed.returncode != 0
    assert 'simulated crash at iteration 2' in crashed.output
    assert crashed_then_resumed['epoch_1_exists'], crashed.output[-3000:]
    assert not crashed_then_resumed['epoch_2_exists_after_crash']
    # Epoch 1 was evaluated with COCO metrics before the crash.
    assert re.search(r'coco/bbox_mAP: \d\.\d+', crashed.output)


def test_resume_continues_the_iteration_count(crashed_then_resumed):
    resumed = crashed_then_resumed['resumed']
    work_dir = crashed_then_resumed['work_dir']
    assert resumed.returncode == 0, resumed.output[-3000:]
    assert 'resumed epoch: 1, iter: 2' in resumed.output
    assert re.search(r'Epoch\(train\)\s+\[2\]\[2/2\]', resumed.output)
    assert not re.search(r'Epoch\(train\)\s+\[1\]', resumed.output)
    final = torch.load(work_dir / 'epoch_2.pth')  # weights-only default
    assert (final['meta']['epoch'], final['meta']['iter']) == (2, 4)
    assert any('.ema_attn.' in k for k in final['state_dict'])


def test_resume_leaves_the_checkpoint_intact(crashed_then_resumed):
    epoch_1 = crashed_then_resumed['work_dir'] / 'epoch_1.pth'
    assert sha256(epoch_1) == crashed_then_resumed['epoch_1_sha']
    ckpt = torch.load(epoch_1)
    assert (ckpt['meta']['epoch'], ckpt['meta']['iter']) == (1, 2)
    assert 'optimizer' in ckpt and 'message_hub' in ckpt


def test_test_tool_prints_coco_bbox_map(tiny, crashed_then_resumed):
    checkpoint = crashed_then_resumed['work_dir'] / 'epoch_2.pth'
    proc = run([
        sys.executable, 'tools/test.py',
        str(tiny / 'tiny.py'),
        str(checkpoint), '--work-dir',
        str(tiny / 'test_dir')
    ], tiny)
    assert proc.returncode == 0, proc.output[-3000:]
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95' in proc.output
    assert re.search(r'coco/bbox_mAP: \d\.\d+', proc.output)
    assert f'Load checkpoint from {checkpoint}' in proc.output


def test_dist_train_two_cpu_processes(tiny):
    work_dir = tiny / 'dist_work_dir'
    proc = run([
        'bash', 'tools/dist_train.sh',
        str(tiny / 'tiny.py'), '2', '--work-dir',
        str(work_dir), '--cfg-options', 'train_cfg.max_epochs=1',
        'default_hooks.logger.interval=1'
    ],
               tiny,
               PYTHON=sys.executable,
               PORT=str(free_port()))
    # torchrun fails if any rank fails.
    assert proc.returncode == 0, proc.output[-3000:]
    assert 'Distributed launcher: pytorch' in proc.output
    assert 'GPU number: 2' in proc.output  # mmengine's name for world size
    # Two images over two ranks: one iteration each.
    assert re.search(r'Epoch\(train\)\s+\[1\]\[1/1\]', proc.output)
    assert re.search(r'coco/bbox_mAP: \d\.\d+', proc.output)
    assert sorted(p.name for p in work_dir.glob('*.pth')) == ['epoch_1.pth']


def test_amp_without_accelerator_names_the_fix(tiny):
    proc = run([
        sys.executable, 'tools/train.py',
        str(tiny / 'tiny.py'), '--amp'
    ], tiny)
    assert proc.returncode == 2
    assert '--amp needs a GPU' in proc.output and 'drop --amp' in proc.output
