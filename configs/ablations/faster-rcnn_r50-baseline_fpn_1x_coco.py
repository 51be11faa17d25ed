# Copyright (c) mmema contributors. All rights reserved.
# Faster R-CNN R50-FPN 1x COCO ablation, the baseline: no attention
# (mmdet's own recipe, key for key).
# Every configs/ablations/faster-rcnn_r50-*_fpn_1x_coco.py shares recipe
# and data; train and test them all with one seed:
#   python tools/analysis_tools/sweep.py \
#       configs/ablations/faster-rcnn_r50-*_fpn_1x_coco.py
_base_ = '../ema_faster-rcnn_r50.py'

model = dict(backbone=dict(plugins=None))
