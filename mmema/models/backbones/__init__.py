# Copyright (c) mmema contributors. All rights reserved.
from .plugin_blocks import (PluginBasicBlock, PluginBottleneck,
                            PluginInvertedResidual)
from .plugin_csp_darknet import PluginCSPDarknet
from .plugin_mobilenet_v2 import PluginMobileNetV2
from .plugin_resnet import PluginResNet, PluginResNet_CIFAR, PluginResNetV1d

__all__ = [
    'PluginBasicBlock', 'PluginBottleneck', 'PluginCSPDarknet',
    'PluginInvertedResidual', 'PluginMobileNetV2', 'PluginResNet',
    'PluginResNetV1d', 'PluginResNet_CIFAR'
]
