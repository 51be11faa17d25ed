# Copyright (c) mmema contributors. All rights reserved.
# YOLOv8n with EMA: yolov8_s-ema_syncbn_fast_8xb16-500e_coco.py at YOLOv8n's
# depth and width, as mmyolo's own yolov8_n recipe derives from yolov8_s.
# EMA (factor 32) sits on 128 and 256 channels: 4 and 8 per group.
#
# Baseline (mmyolo's own YOLOv8n, key for key):
#         --cfg-options model.backbone.plugins=None
_base_ = './yolov8_s-ema_syncbn_fast_8xb16-500e_coco.py'

deepen_factor = 0.33
widen_factor = 0.25

model = dict(
    backbone=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    neck=dict(deepen_factor=deepen_factor, widen_factor=widen_factor),
    bbox_head=dict(head_module=dict(widen_factor=widen_factor)))
