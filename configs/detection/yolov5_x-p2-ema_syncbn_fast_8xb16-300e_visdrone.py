# Copyright (c) mmema contributors. All rights reserved.
# YOLOv5x-P2 with EMA on VisDrone2019-DET (10 classes, 640x640): the EMA
# paper's VisDrone detector, yolov5xP2EMA.yaml of the official repository.
#
# - Backbone: YOLOv5 v5.0's CSPDarknet (Focus stem, C3 depths 3-9-9-3, SPP
#   before the last C3), which is mmdet's CSPDarknet 'P5' (YOLOX took it
#   from YOLOv5 v5.0), at depth 1.33 and width 1.25 (YOLOv5x), giving
#   P2-P5 (strides 4-32).
# - Neck: YOLOv5's P2 PAFPN (yolov5-p2.yaml; mmema's YOLOv5P2PAFPN) with EMA
#   (factor 32) after five of its C3 layers as in yolov5xP2EMA.yaml: the
#   top-down C3 of P4, P3 and P2 and the bottom-up C3 of P3 and P4.
# - Head: mmyolo's YOLOv5 head on four levels with the yaml's anchors; loss
#   weights scaled as YOLOv5 scales them (3 / levels, classes / 80).
# - Recipe: mmyolo's YOLOv5x (300 epochs, 8 GPUs x 16); the official
#   repository's hyp.visdrone.yaml is not reproduced.
#
# Convert the annotations first (see configs/detection/
# faster-rcnn_r50-ema_fpn_1x_visdrone.py). Baseline without EMA:
#     --cfg-options model.neck.plugins=None
# The paper's Params/GFLOPs beside this build's:
#     python tools/analysis_tools/get_flops.py CONFIG --paper
# What the paper's 91.18M counts (the yaml feeds P4's bottom-up C3 with the
# EMA output instead of the lateral conv; the README's YOLO section has the
# count): this config puts EMA on each C3's output, as the yaml's layer list
# reads.
_base_ = 'mmyolo::yolov5/yolov5_x-v61_syncbn_fast_8xb16-300e_coco.py'

custom_imports = dict(imports=['mmema'], allow_failed_imports=False)

data_root = 'data/VisDrone2019-DET/'
dataset_type = 'YOLOv5VisDroneDataset'
num_classes = 10
deepen_factor = 1.33
widen_factor = 1.25
img_scale = (640, 640)
strides = [4, 8, 16, 32]
num_det_layers = 4
anchors = [
    [(5, 6), (8, 14), (15, 11)],  # P2/4
    [(10, 13), (16, 30), (33, 23)],  # P3/8
    [(30, 61), (62, 45), (59, 119)],  # P4/16
    [(116, 90), (156, 198), (373, 326)]  # P5/32
]
norm_cfg = dict(type='BN', momentum=0.03, eps=0.001)
act_cfg = dict(type='SiLU', inplace=True)
# Loss weights of mmyolo's YOLOv5-m/l/x recipe (YOLOv5's hyp.scratch-high).
loss_cls_weight = 0.3
loss_bbox_weight = 0.05
loss_obj_weight = 0.7

model = dict(
    backbone=dict(
        _delete_=True,
        type='mmdet.CSPDarknet',
        arch='P5',
        deepen_factor=deepen_factor,
        widen_factor=widen_factor,
        out_indices=(1, 2, 3, 4),
        norm_cfg=norm_cfg,
        act_cfg=act_cfg),
    neck=dict(
        type='YOLOv5P2PAFPN',
        in_channels=[128, 256, 512, 1024],
        out_channels=[256, 256, 512, 1024],
        plugins=[
            dict(
                cfg=dict(type='EMA', factor=32),
                stages=(True, True, True, False),
                position='after_top_down'),
            dict(
                cfg=dict(type='EMA', factor=32),
                stages=(False, True, True, False),
                position='after_bottom_up')
        ]),
    bbox_head=dict(
        head_module=dict(
            num_classes=num_classes,
            in_channels=[256, 256, 512, 1024],
            featmap_strides=strides),
        prior_generator=dict(base_sizes=anchors, strides=strides),
        loss_cls=dict(loss_weight=loss_cls_weight *
                      (num_classes / 80 * 3 / num_det_layers)),
        loss_bbox=dict(loss_weight=loss_bbox_weight * (3 / num_det_layers)),
        loss_obj=dict(loss_weight=loss_obj_weight *
                      ((img_scale[0] / 640)**2 * 3 / num_det_layers)),
        # YOLOv5's objectness balance for four levels.
        obj_level_weights=[4.0, 1.0, 0.25, 0.06]))

# albumentations 2 draws from generators of its own, which randomness.seed
# does not reach: mmema's SeededAlbu (mmdet.Albu seeded from the run's seed)
# makes two runs of this config one run.
train_pipeline = [
    dict(t, type='mmdet.SeededAlbu') if t['type'] == 'mmdet.Albu' else t
    for t in _base_.train_pipeline
]
train_dataloader = dict(
    collate_fn=dict(_delete_=True, type='yolov5_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/train.json',
        data_prefix=dict(img='VisDrone2019-DET-train/images/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/val.json',
        data_prefix=dict(img='VisDrone2019-DET-val/images/')))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator
