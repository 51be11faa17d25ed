# Copyright (c) mmema contributors. All rights reserved.
# The YOLOv5s-EMA of configs/detection/yolov5_s-v61-ema_syncbn_fast_8xb16-
# 300e_coco.py, scaled down to train on a laptop CPU in minutes:
# `make demo ARGS=--yolo` (tools/run_demo.py --yolo) draws the shapes data
# set into work_dirs/demo_yolo/data, trains, tests with CocoMetric and draws
# detections and EMA attention.
#
# The network is the config's (EMA after the C3 layers of P4 and P5, before
# SPPF), with 3 classes. What changes is image size (128 px), data,
# schedule and what a short run from random weights needs: the recipe's
# augmentations at 128 px, YOLOv5's loss weights rescaled for 3 classes and
# 128 px as YOLOv5 rescales them, a warm-up of 100 iterations instead of
# 1000, and the model EMA (EMAHook) kept.
_base_ = '../detection/yolov5_s-v61-ema_syncbn_fast_8xb16-300e_coco.py'

# Read by tools/run_demo.py (mmema.demo.generate_shapes_split).
demo_data = dict(
    num_train=320,
    num_val=64,
    image_size=128,
    max_objects=5,
    min_size=16,
    max_size=40,
    seed=0)

classes = ('circle', 'square', 'triangle')
num_classes = len(classes)
metainfo = dict(classes=classes)
data_root = 'work_dirs/demo_yolo/data/'
img_scale = (128, 128)

model = dict(
    bbox_head=dict(
        head_module=dict(num_classes=num_classes),
        loss_cls=dict(loss_weight=0.5 * num_classes / 80),
        loss_obj=dict(loss_weight=1.0 * (img_scale[0] / 640)**2)))

pre_transform = _base_.pre_transform
train_pipeline = [
    *pre_transform,
    dict(
        type='Mosaic',
        img_scale=img_scale,
        pad_val=114.0,
        pre_transform=pre_transform),
    dict(
        type='YOLOv5RandomAffine',
        max_rotate_degree=0.0,
        max_shear_degree=0.0,
        scaling_ratio_range=(0.5, 1.5),
        border=(-img_scale[0] // 2, -img_scale[1] // 2),
        border_val=(114, 114, 114)),
    *_base_.train_pipeline[4:],  # Albu, HSV, flip, pack
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='YOLOv5KeepRatioResize', scale=img_scale),
    dict(
        type='LetterResize',
        scale=img_scale,
        allow_scale_up=False,
        pad_val=dict(img=114)),
    dict(type='LoadAnnotations', with_bbox=True, _scope_='mmdet'),
    dict(
        type='mmdet.PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor', 'pad_param'))
]
train_batch_size = 16
train_dataloader = dict(
    batch_size=train_batch_size,
    num_workers=0,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    pin_memory=False,
    dataset=dict(
        data_root=data_root,
        metainfo=metainfo,
        ann_file='annotations/instances_val.json',
        data_prefix=dict(img='val/'),
        pipeline=test_pipeline,
        batch_shapes_cfg=None))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val.json')
test_evaluator = val_evaluator

# 50 epochs of 20 iterations; the recipe's lr 0.01 and its linear decay.
max_epochs = 50
train_cfg = dict(max_epochs=max_epochs, val_interval=max_epochs)
optim_wrapper = dict(optimizer=dict(batch_size_per_gpu=train_batch_size))
default_hooks = dict(
    param_scheduler=dict(max_epochs=max_epochs, warmup_mim_iter=100),
    checkpoint=dict(interval=max_epochs, save_best=None),
    logger=dict(interval=20))
randomness = dict(seed=0)
