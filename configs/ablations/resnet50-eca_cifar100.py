# Copyright (c) mmema contributors. All rights reserved.
# CIFAR-100 ResNet-50 ablation:
# ECA (Wang et al. 2020, arXiv 1910.03151): adaptive kernel.
# After conv3 of every bottleneck, all stages (the paper's placement).
# Every configs/ablations/resnet50-*_cifar100.py shares recipe and data;
# train and test them all with one seed:
#   python tools/analysis_tools/sweep.py \
#       configs/ablations/resnet50-*_cifar100.py
_base_ = '../ema_resnet50_cifar100.py'

model = dict(
    backbone=dict(plugins=[
        dict(
            cfg=dict(type='ECA', kernel_size=None),
            stages=(True, True, True, True),
            position='after_conv3')
    ]))

# The paper reports top-1 and top-5.
val_evaluator = dict(topk=(1, 5))
test_evaluator = dict(topk=(1, 5))
