# Copyright (c) mmema contributors. All rights reserved.
# YOLOv5s v6.1 COCO ablation of the EMA paper's detection table:
# CBAM (Woo et al. 2018, arXiv 1807.06521): reduction 16, 7x7 spatial conv.
# mmema's CBAM by its alias: in mmyolo's scope the name 'CBAM' is mmyolo's own.
# In EMA's places: after the C3 layers of P4 and P5 (before SPPF), with the
# arguments of the official repository's YOLOv5 code.
# Every configs/ablations/yolov5_s-v61-*_coco.py shares recipe and data;
# the baseline is the EMA config with --cfg-options model.backbone.plugins=None.
_base_ = '../detection/yolov5_s-v61-ema_syncbn_fast_8xb16-300e_coco.py'

model = dict(
    backbone=dict(plugins=[
        dict(
            cfg=dict(type='ConvBlockAttention', reduction=16, spatial_kernel=7),
            stages=(False, False, True, True),
            position='after_csp')
    ]))
