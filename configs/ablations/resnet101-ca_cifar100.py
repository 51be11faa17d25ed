# Copyright (c) mmema contributors. All rights reserved.
# CIFAR-100 ResNet-101 ablation: CA (reduction 32) after conv3 of every
# bottleneck, all stages, as resnet50-ca_cifar100.py; only the depth
# changes. Params 46,322,828 (46.32M); the paper prints 46.22M, which CA
# without stage 2 gives (46,220,236), a placement its ResNet-50 cell rules
# out (docs/paper_numbers.md). Baseline and EMA rows of the paper's
# ResNet-101 table: ../classification/resnet101-ema_1xb128_cifar100.py.
_base_ = './resnet50-ca_cifar100.py'

model = dict(backbone=dict(depth=101))
