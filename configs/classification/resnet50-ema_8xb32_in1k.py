# Copyright (c) mmema contributors. All rights reserved.
# ResNet-50 with EMA in every bottleneck (after conv3+bn3, factor 32) on
# ImageNet-1k, with mmpretrain's ResNet-50 recipe unchanged (8 GPUs x 32
# images, SGD lr 0.1, 100 epochs, data in data/imagenet), trained from scratch.
# Baseline: --cfg-options model.backbone.plugins=None
_base_ = 'mmpretrain::resnet/resnet50_8xb32_in1k.py'

custom_imports = dict(imports=['mmema'], allow_failed_imports=False)

model = dict(
    backbone=dict(
        type='PluginResNet',
        plugins=[
            dict(
                cfg=dict(type='EMA', factor=32),
                stages=(True, True, True, True),
                position='after_conv3')
        ]))
