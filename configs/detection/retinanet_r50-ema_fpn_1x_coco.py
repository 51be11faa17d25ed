# Copyright (c) mmema contributors. All rights reserved.
# RetinaNet R50-FPN 1x COCO with EMA (factor 32) after conv3 of every
# bottleneck in stages 2-4.
# Baseline (mmdet's RetinaNet R50-FPN 1x, key for key):
#     --cfg-options model.backbone.plugins=None
_base_ = 'mmdet::retinanet/retinanet_r50_fpn_1x_coco.py'

custom_imports = dict(imports=['mmema'], allow_failed_imports=False)

# Stage mask (False, True, True, True), as in configs/ema_faster-rcnn_r50.py:
# stage 1 is frozen (frozen_stages=1) with its plugins, and EMA has no
# residual path, so a frozen random EMA there would distort the pretrained
# features; stages 2-4 feed the FPN (C3-C5).
model = dict(
    backbone=dict(plugins=[
        dict(
            cfg=dict(type='EMA', factor=32),
            stages=(False, True, True, True),
            position='after_conv3')
    ]))
