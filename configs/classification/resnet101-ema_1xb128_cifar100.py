# Copyright (c) mmema contributors. All rights reserved.
# ResNet-101 with EMA in every bottleneck on CIFAR-100: the paper's recipe
# (see ../ema_resnet50_cifar100.py), only the depth changes.
# Baseline: --cfg-options model.backbone.plugins=None
_base_ = '../ema_resnet50_cifar100.py'

model = dict(backbone=dict(depth=101))
