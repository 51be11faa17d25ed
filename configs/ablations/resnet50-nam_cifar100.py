# Copyright (c) mmema contributors. All rights reserved.
# CIFAR-100 ResNet-50 ablation:
# NAM (Liu et al. 2021, arXiv 2111.12419): BN-scale weights.
# After conv3 of every bottleneck, all stages (the paper's placement).
# Params 23,735,460 (23.74M); the paper's 23.71M is NAM after conv2:
# resnet50-nam-paper-params_cifar100.py (docs/paper_numbers.md).
# Every configs/ablations/resnet50-*_cifar100.py shares recipe and data;
# train and test them all with one seed:
#   python tools/analysis_tools/sweep.py \
#       configs/ablations/resnet50-*_cifar100.py
_base_ = '../ema_resnet50_cifar100.py'

model = dict(
    backbone=dict(plugins=[
        dict(
            cfg=dict(type='NAM'),
            stages=(True, True, True, True),
            position='after_conv3')
    ]))

# The paper reports top-1 and top-5.
val_evaluator = dict(topk=(1, 5))
test_evaluator = dict(topk=(1, 5))
