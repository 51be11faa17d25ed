# Copyright (c) mmema contributors. All rights reserved.
# Faster R-CNN R50-FPN 1x COCO with EMA (Efficient Multi-Scale Attention,
# arXiv 2305.13563, factor 32) after conv3 of every bottleneck in stages 2-4.
#
# Train:  python tools/train.py configs/ema_faster-rcnn_r50.py
# Test:   python tools/test.py configs/ema_faster-rcnn_r50.py CHECKPOINT
# Baseline (mmdet's own Faster R-CNN R50-FPN 1x, key for key):
#         python tools/train.py configs/ema_faster-rcnn_r50.py \
#             --cfg-options model.backbone.plugins=None
_base_ = 'mmdet::faster_rcnn/faster-rcnn_r50_fpn_1x_coco.py'

custom_imports = dict(imports=['mmema'], allow_failed_imports=False)

# Stage mask (False, True, True, True): the recipe freezes stage 1
# (frozen_stages=1), and ResNet freezes every parameter of a frozen stage,
# plugins included. EMA has no residual path, so a frozen, randomly
# initialised EMA in stage 1 would rescale the ImageNet features forever.
# Stage 1 also runs at stride 4 (200x336 at 800x1333), the costliest place
# for an attention. Stages 2-4 are trained and feed FPN levels P3-P5, the
# same c3-c5 placement mmdet uses for GCNet and DCN.
model = dict(
    backbone=dict(plugins=[
        dict(
            cfg=dict(type='EMA', factor=32),
            stages=(False, True, True, True),
            position='after_conv3')
    ]))
