# Copyright (c) mmema contributors. All rights reserved.
# YOLOv5s v6.1 COCO ablation of the EMA paper's detection table:
# ECA (Wang et al. 2020, arXiv 1910.03151): kernel size from the channels.
# In EMA's places: after the C3 layers of P4 and P5 (before SPPF), with the
# arguments of the official repository's YOLOv5 code.
# Every configs/ablations/yolov5_s-v61-*_coco.py shares recipe and data;
# the baseline is the EMA config with --cfg-options model.backbone.plugins=None.
_base_ = '../detection/yolov5_s-v61-ema_syncbn_fast_8xb16-300e_coco.py'

model = dict(
    backbone=dict(plugins=[
        dict(
            cfg=dict(type='ECA'),
            stages=(False, False, True, True),
            position='after_csp')
    ]))
