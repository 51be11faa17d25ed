# Copyright (c) mmema contributors. All rights reserved.
# YOLOv5x-P2 VisDrone2019-DET ablation of the EMA paper's VisDrone table:
# CBAM (Woo et al. 2018, arXiv 1807.06521): reduction 16, 7x7 spatial
# conv (mmema's CBAM by its alias: in mmyolo's scope 'CBAM' is mmyolo's).
# In EMA's places: after the five neck C3 layers of yolov5xP2EMA.yaml.
# The baseline is the EMA config with --cfg-options model.neck.plugins=None.
_base_ = '../detection/yolov5_x-p2-ema_syncbn_fast_8xb16-300e_visdrone.py'

model = dict(
    neck=dict(plugins=[
        dict(
            plugin,
            cfg=dict(
                type='ConvBlockAttention', reduction=16, spatial_kernel=7))
        for plugin in _base_.model.neck.plugins
    ]))
