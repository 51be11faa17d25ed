# Copyright (c) mmema contributors. All rights reserved.
# Faster R-CNN R50-FPN 1x COCO ablation:
# SA (Zhang & Yang 2021, arXiv 2102.00240): 64 groups.
# After conv3 of every bottleneck in stages 2-4, as in the EMA entry
# config (configs/ema_faster-rcnn_r50.py explains the stage mask).
# Every configs/ablations/faster-rcnn_r50-*_fpn_1x_coco.py shares recipe
# and data; train and test them all with one seed:
#   python tools/analysis_tools/sweep.py \
#       configs/ablations/faster-rcnn_r50-*_fpn_1x_coco.py
_base_ = '../ema_faster-rcnn_r50.py'

model = dict(
    backbone=dict(plugins=[
        dict(
            cfg=dict(type='SA', groups=64),
            stages=(False, True, True, True),
            position='after_conv3')
    ]))
