# Copyright (c) mmema contributors. All rights reserved.
# Faster R-CNN R50-FPN 1x with EMA on VisDrone2019-DET (the ten classes
# 1-10). Convert the official annotations first:
#     python tools/dataset_converters/visdrone2coco.py \
#         data/VisDrone2019-DET/VisDrone2019-DET-train \
#         data/VisDrone2019-DET/annotations/train.json
#     python tools/dataset_converters/visdrone2coco.py \
#         data/VisDrone2019-DET/VisDrone2019-DET-val \
#         data/VisDrone2019-DET/annotations/val.json
# Baseline (the same detector without EMA):
#     --cfg-options model.backbone.plugins=None
_base_ = '../ema_faster-rcnn_r50.py'

dataset_type = 'VisDroneDataset'
data_root = 'data/VisDrone2019-DET/'

# Ignored regions and `others` are crowd boxes in the converted json (see
# the converter): anchors and proposals that lie mostly (IoF > 0.5) inside
# one are left out of the loss instead of being trained as background.
model = dict(
    roi_head=dict(bbox_head=dict(num_classes=10)),
    train_cfg=dict(
        rpn=dict(assigner=dict(ignore_iof_thr=0.5)),
        rcnn=dict(assigner=dict(ignore_iof_thr=0.5))))

train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/train.json',
        data_prefix=dict(img='VisDrone2019-DET-train/images/')))
val_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/val.json',
        data_prefix=dict(img='VisDrone2019-DET-val/images/')))
test_dataloader = val_dataloader

val_evaluator = dict(ann_file=data_root + 'annotations/val.json')
test_evaluator = val_evaluator
