# Copyright (c) mmema contributors. All rights reserved.
"""mmpretrain's ResNets with mmdet's ``plugins`` argument."""
from typing import Any, Optional, Sequence

from mmpretrain.models.backbones import ResNet, ResNet_CIFAR, ResNetV1d
from mmpretrain.models.backbones.resnet import Bottleneck, ResLayer
from mmpretrain.registry import MODELS

from ..plugin_spec import select_stage_plugins
from .plugin_blocks import PluginBasicBlock, PluginBottleneck

#: Where blocks take plugins (basic blocks have no ``after_conv3``).
BLOCK_POSITIONS = ('after_conv1', 'after_conv2', 'after_conv3')


@MODELS.register_module()
class PluginResNet(ResNet):
    """mmpretrain's ``ResNet`` that hosts plugins, in mmdet's form.

    Everything but ``plugins`` is mmpretrain's ``ResNet``; with
    ``plugins=None`` the network, its output and its ``state_dict`` keys are
    the parent's, so plain mmpretrain checkpoints load leaving only the
    plugins' keys missing.

    Example (EMA after conv3 of every ResNet-50 bottleneck)::

        backbone = dict(
            type='PluginResNet', depth=50,
            plugins=[dict(cfg=dict(type='EMA', factor=32),
                          stages=(True, True, True, True),
                          position='after_conv3')])

    Args:
        depth (int): Network depth, from {18, 34, 50, 101, 152}.
        plugins (Sequence[dict], optional): Plugins, each a dict with
            ``cfg`` (the plugin's config; ``cfg['postfix']`` tells several
            plugins of one type apart), ``position`` (``'after_conv1'``,
            ``'after_conv2'`` or, in bottlenecks, ``'after_conv3'``) and
            optional ``stages`` (one bool per stage; all stages if missing).
            Every block of a selected stage gets the plugin. Defaults to None.
        **kwargs: Other arguments of mmpretrain's ``ResNet``.
    """

    arch_settings = {
        depth: (PluginBottleneck if issubclass(block, Bottleneck) else
                PluginBasicBlock, stage_blocks)
        for depth, (block, stage_blocks) in ResNet.arch_settings.items()
    }

    def __init__(self,
                 depth: int,
                 plugins: Optional[Sequence[dict]] = None,
                 **kwargs: Any) -> None:
        # Read by make_res_layer, which ResNet.__init__ calls for each stage
        # (mmpretrain's ResNeXt passes its own arguments the same way).
        self.plugins = plugins
        super().__init__(depth=depth, **kwargs)

    def make_res_layer(self, **kwargs: Any) -> ResLayer:
        """Build one stage, with the plugins selected for it.

        Args:
            **kwargs: Arguments of mmpretrain's ``ResLayer``.

        Returns:
            ResLayer: The stage.
        """
        # ResNet.__init__ appends each stage's name after building it.
        stage_idx = len(self.res_layers)
        plugins = select_stage_plugins(
            self.plugins,
            stage_idx,
            self.num_stages,
            host=type(self).__name__,
            positions=BLOCK_POSITIONS)
        return super().make_res_layer(plugins=plugins, **kwargs)


@MODELS.register_module()
class PluginResNetV1d(PluginResNet, ResNetV1d):
    """mmpretrain's ``ResNetV1d`` (deep stem, average-pool downsampling) that
    hosts plugins; arguments as :class:`PluginResNet`."""


@MODELS.register_module()
class PluginResNet_CIFAR(PluginResNet, ResNet_CIFAR):
    """mmpretrain's ``ResNet_CIFAR`` (3x3 stem, no max-pool) that hosts
    plugins; arguments as :class:`PluginResNet`."""
