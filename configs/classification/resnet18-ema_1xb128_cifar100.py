# Copyright (c) mmema contributors. All rights reserved.
# ResNet-18 with EMA in every basic block on CIFAR-100, the paper's recipe
# (see ../ema_resnet50_cifar100.py). A BasicBlock has two convs, so EMA goes
# after conv2+bn2, before the residual add: the place of a bottleneck's
# after_conv3.
# Baseline: --cfg-options model.backbone.plugins=None
_base_ = '../ema_resnet50_cifar100.py'

model = dict(
    backbone=dict(
        depth=18,
        plugins=[
            dict(
                cfg=dict(type='EMA', factor=32),
                stages=(True, True, True, True),
                position='after_conv2')
        ]),
    head=dict(in_channels=512))
