# Copyright (c) mmema contributors. All rights reserved.
# The EMA Faster R-CNN of configs/ema_faster-rcnn_r50.py, scaled down to
# train on a laptop CPU in minutes: `make demo` (tools/run_demo.py) draws
# the shapes data set into work_dirs/demo/data, trains, tests with
# CocoMetric and draws detections and EMA attention.
#
# The network is the entry config's. What changes is image size, schedule
# and data, and what training from random weights needs, as there are no
# pretrained weights here: every stage and its BN statistics train
# (frozen_stages=-1, norm_eval=False, as in mmdet's from-scratch recipes),
# and gradients are clipped (max_norm=35, as in mmdet's RPN and RetinaNet
# recipes; without it this schedule diverged). The RPN/RoI sample budgets
# shrink with the image: 96x96 is 1/116 of 800x1333.
_base_ = '../ema_faster-rcnn_r50.py'

# Read by tools/run_demo.py (mmema.demo.generate_shapes_split).
demo_data = dict(
    num_train=320,
    num_val=64,
    image_size=96,
    max_objects=5,
    min_size=20,
    max_size=36,
    seed=0)

classes = ('circle', 'square', 'triangle')
data_root = 'work_dirs/demo/data/'
image_scale = (96, 96)

model = dict(
    backbone=dict(frozen_stages=-1, norm_eval=False, init_cfg=None),
    roi_head=dict(bbox_head=dict(num_classes=len(classes))),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=500, max_per_img=64),
        rcnn=dict(sampler=dict(num=32))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=64)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_scale, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=dict(classes=classes),
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        metainfo=dict(classes=classes),
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

# 4 epochs of 80 iterations; lr 0.01 for batch 4 (the recipe's 0.02 is for
# batch 16), x0.1 for the last epoch.
max_epochs = 4
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=50),
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[max_epochs - 1],
        gamma=0.1)
]
optim_wrapper = dict(
    optimizer=dict(lr=0.01), clip_grad=dict(max_norm=35, norm_type=2))
auto_scale_lr = dict(enable=False)
default_hooks = dict(
    logger=dict(interval=20), checkpoint=dict(interval=max_epochs))
randomness = dict(seed=0)
