# Copyright (c) mmema contributors. All rights reserved.
# CIFAR-100 ResNet-50 ablation:
# CA (Hou et al. 2021, arXiv 2103.02907): reduction 32, h-swish.
# After conv3 of every bottleneck, all stages (the paper's placement).
# Params 25,623,084 (25.62M); the paper prints 25.57M, which only CA with
# its conv biases removed and stage 1 left out reproduces
# (docs/paper_numbers.md).
# Every configs/ablations/resnet50-*_cifar100.py shares recipe and data;
# train and test them all with one seed:
#   python tools/analysis_tools/sweep.py \
#       configs/ablations/resnet50-*_cifar100.py
_base_ = '../ema_resnet50_cifar100.py'

model = dict(
    backbone=dict(plugins=[
        dict(
            cfg=dict(type='CA', reduction=32),
            stages=(True, True, True, True),
            position='after_conv3')
    ]))

# The paper reports top-1 and top-5.
val_evaluator = dict(topk=(1, 5))
test_evaluator = dict(topk=(1, 5))
