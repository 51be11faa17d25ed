# Copyright (c) mmema contributors. All rights reserved.
# Faster R-CNN R50-FPN 1x COCO ablation:
# NAM (Liu et al. 2021, arXiv 2111.12419): BN-scale weights.
# After conv3 of every bottleneck in stages 2-4, as in the EMA entry
# config (configs/ema_faster-rcnn_r50.py explains the stage mask).
# The recipe keeps every BN of the backbone in eval mode (norm_eval=True),
# this plugin's BN included: it runs on its initial statistics (mean 0,
# variance 1), as a learned affine layer.
# Every configs/ablations/faster-rcnn_r50-*_fpn_1x_coco.py shares recipe
# and data; train and test them all with one seed:
#   python tools/analysis_tools/sweep.py \
#       configs/ablations/faster-rcnn_r50-*_fpn_1x_coco.py
_base_ = '../ema_faster-rcnn_r50.py'

model = dict(
    backbone=dict(plugins=[
        dict(
            cfg=dict(type='NAM'),
            stages=(False, True, True, True),
            position='after_conv3')
    ]))
