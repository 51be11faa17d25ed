# Copyright (c) mmema contributors. All rights reserved.
# Faster R-CNN R50-FPN 1x COCO ablation:
# EMA (Ouyang et al. 2023, arXiv 2305.13563): factor 32, after conv3 of
# every bottleneck in stages 2-4, exactly as the EMA entry config sets it
# (configs/ema_faster-rcnn_r50.py explains the stage mask).
# Every configs/ablations/faster-rcnn_r50-*_fpn_1x_coco.py shares recipe
# and data; train and test them all with one seed:
#   python tools/analysis_tools/sweep.py \
#       configs/ablations/faster-rcnn_r50-*_fpn_1x_coco.py
_base_ = '../ema_faster-rcnn_r50.py'
