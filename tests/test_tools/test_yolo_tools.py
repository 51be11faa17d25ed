# Copyright (c) mmema contributors. All rights reserved.
"""YOLOv5s-EMA and YOLOv8s-EMA through tools/train.py, test.py and
dist_train.sh, as a user would run them.

A user's config inherits each shipped config and points it at 16 + 8
generated 64 px shape images (``mmema.demo``), with the recipe's own
augmentations at that size. Subprocesses train two epochs and evaluate
with COCO bbox mAP after each, crash in epoch 2 and resume, test the
checkpoint, and train on two gloo processes, where mmyolo's SyncBN
becomes BN.
"""
import re
import sys
from pathlib import Path

import pytest
import torch
from tool_runs import (CRASH_HOOK, REPO, crash_config, crash_then_resume,
                       free_port, run, sha256)

import mmema  # noqa: F401  (weights-only loading of the checkpoints)
from mmema.demo import generate_shapes_split

DETECTION = REPO / 'configs' / 'detection'
# Each config and what a user changes for 3 classes: YOLOv8's assigner
# counts classes too.
CONFIGS = {
    'yolov5s': (DETECTION / 'yolov5_s-v61-ema_syncbn_fast_8xb16-300e_coco.py',
                'dict(head_module=dict(num_classes=3))'),
    'yolov8s': (DETECTION / 'yolov8_s-ema_syncbn_fast_8xb16-500e_coco.py',
                'dict(head_module=dict(num_classes=3)), '
                'train_cfg=dict(assigner=dict(num_classes=3))'),
}

# 16 training images, batch 4: 4 iterations an epoch.
USER_CONFIG = """
_base_ = {base!r}
data_root = '{root}/'
metainfo = dict(classes=('circle', 'square', 'triangle'))
img_scale = (64, 64)
model = dict(bbox_head={head})
pre_transform = _base_.pre_transform
train_pipeline = [
    *pre_transform,
    dict(type='Mosaic', img_scale=img_scale, pad_val=114.0,
         pre_transform=pre_transform),
    dict(type='YOLOv5RandomAffine', max_rotate_degree=0.0,
         max_shear_degree=0.0, scaling_ratio_range=(0.5, 1.5),
         border=(-img_scale[0] // 2, -img_scale[1] // 2),
         border_val=(114, 114, 114)),
    *_base_.train_pipeline[4:],  # Albu, HSV, flip, pack
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='YOLOv5KeepRatioResize', scale=img_scale),
    dict(type='LetterResize', scale=img_scale, allow_scale_up=False,
         pad_val=dict(img=114)),
    dict(type='LoadAnnotations', with_bbox=True, _scope_='mmdet'),
    dict(type='mmdet.PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                    'scale_factor', 'pad_param'))
]
train_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    sampler=dict(shuffle=False),
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_train.json',
                 data_prefix=dict(img='train/'), pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/instances_val.json',
                 data_prefix=dict(img='val/'), pipeline=test_pipeline,
                 batch_shapes_cfg=None))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator
max_epochs = 2
train_cfg = dict(max_epochs=max_epochs, val_interval=1)
default_hooks = dict(
    param_scheduler=dict(max_epochs=max_epochs, warmup_mim_iter=2),
    checkpoint=dict(interval=1, save_best=None), logger=dict(interval=1))
"""

COCO_MAP = r'coco/bbox_mAP: \d\.\d+'


@pytest.fixture(scope='module', params=sorted(CONFIGS))
def user(request, tmp_path_factory) -> Path:
    """A folder with the data, the user's config and the crash config."""
    tmp = tmp_path_factory.mktemp(request.param)
    data = tmp / 'data'
    generate_shapes_split(str(data), 'train', 16, 0, 64, 3, 12, 28)
    generate_shapes_split(str(data), 'val', 8, 1, 64, 3, 12, 28)
    base, head = CONFIGS[request.param]
    (tmp / 'tiny.py').write_text(
        USER_CONFIG.format(base=str(base), root=data, head=head))
    (tmp / 'tiny_crash.py').write_text(
        crash_config(iteration=6, base_hooks=True))
    (tmp / 'crash_hook.py').write_text(CRASH_HOOK)
    return tmp


@pytest.fixture(scope='module')
def crashed_then_resumed(user) -> dict:
    """Train 2 epochs (4 iterations each), crash at iteration 6, resume."""
    return crash_then_resume(user, [])


def test_crash_keeps_epoch_1_evaluated_with_coco(crashed_then_resumed):
    crashed = crashed_then_resumed['crashed']
    assert crashed.returncode != 0
    assert 'simulated crash at iteration 6' in crashed.output
    assert crashed_then_resumed['epoch_1_exists'], crashed.output[-3000:]
    assert not crashed_then_resumed['epoch_2_exists_after_crash']
    assert re.search(COCO_MAP, crashed.output)


def test_resume_continues_and_keeps_the_checkpoint(crashed_then_resumed):
    resumed = crashed_then_resumed['resumed']
    work_dir = crashed_then_resumed['work_dir']
    assert resumed.returncode == 0, resumed.output[-3000:]
    assert 'resumed epoch: 1, iter: 4' in resumed.output
    assert re.search(r'Epoch\(train\)\s+\[2\]\[4/4\]', resumed.output)
    assert not re.search(r'Epoch\(train\)\s+\[1\]', resumed.output)
    final = torch.load(work_dir / 'epoch_2.pth')  # weights-only default
    assert (final['meta']['epoch'], final['meta']['iter']) == (2, 8)
    ema_keys = [k for k in final['state_dict'] if '.ema_attn.' in k]
    assert ema_keys and all(
        k.startswith(('backbone.stage3.1.ema_attn.',
                      'backbone.stage4.1.ema_attn.')) for k in ema_keys)
    # The recipe's model EMA (EMAHook) is saved with it, EMA layers too.
    assert any('.ema_attn.' in k for k in final['ema_state_dict'])
    epoch_1 = work_dir / 'epoch_1.pth'
    assert sha256(epoch_1) == crashed_then_resumed['epoch_1_sha']


def test_test_tool_prints_coco_bbox_map(user, crashed_then_resumed):
    checkpoint = crashed_then_resumed['work_dir'] / 'epoch_2.pth'
    proc = run([
        sys.executable, 'tools/test.py',
        str(user / 'tiny.py'),
        str(checkpoint), '--work-dir',
        str(user / 'test_dir')
    ], user)
    assert proc.returncode == 0, proc.output[-3000:]
    assert 'Average Precision  (AP) @[ IoU=0.50:0.95' in proc.output
    assert re.search(COCO_MAP, proc.output)
    assert f'Load checkpoint from {checkpoint}' in proc.output


def test_dist_train_two_cpu_processes_with_bn(user):
    work_dir = user / 'dist_work_dir'
    proc = run([
        'bash', 'tools/dist_train.sh',
        str(user / 'tiny.py'), '2', '--work-dir',
        str(work_dir), '--cfg-options', 'train_cfg.max_epochs=1'
    ],
               user,
               PYTHON=sys.executable,
               PORT=str(free_port()))
    assert proc.returncode == 0, proc.output[-3000:]
    assert 'GPU number: 2' in proc.output  # mmengine's name for world size
    # mmyolo's YOLODetector made SyncBN for two processes; on CPUs it is BN.
    assert re.search(r'CPUDistributedDataParallel: \d+ SyncBN layers are BN',
                     proc.output)
    # 16 images over two ranks at batch 4: two iterations each.
    assert re.search(r'Epoch\(train\)\s+\[1\]\[2/2\]', proc.output)
    assert re.search(COCO_MAP, proc.output)
    assert sorted(p.name for p in work_dir.glob('*.pth')) == ['epoch_1.pth']
