# Copyright (c) mmema contributors. All rights reserved.
from .plugin_csp_darknet import PluginCSPDarknet

__all__ = ['PluginCSPDarknet']

from .mobilenet_v2_plugin import (PluginInvertedResidual,  # noqa: E402
                                  PluginMobileNetV2)
from .plugin_blocks import PluginBasicBlock, PluginBottleneck  # noqa: E402
from .plugin_resnet import (PluginResNet, PluginResNet_CIFAR,  # noqa: E402
                            PluginResNetV1d)

__all__ += [
    'PluginBasicBlock', 'PluginBottleneck', 'PluginInvertedResidual',
    'PluginMobileNetV2', 'PluginResNet', 'PluginResNetV1d',
    'PluginResNet_CIFAR'
]
