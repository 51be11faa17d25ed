# Copyright (c) mmema contributors. All rights reserved.
"""mmpretrain's MobileNetV2 with EMA where the EMA paper puts it."""
import warnings
from typing import Any, Optional, Sequence

import torch.nn as nn
from mmpretrain.models.backbones import MobileNetV2
from mmpretrain.models.backbones.mobilenet_v2 import InvertedResidual
from mmpretrain.registry import MODELS

from ..plugin_spec import select_stage_plugins
from .plugin_blocks import PluginInvertedResidual

#: The EMA paper's MobileNetV2: EMA (factor 32) after the depthwise conv of
#: every block wider than ``plugin_hidden_threshold`` (144) hidden channels.
PAPER_PLUGINS = (dict(
    cfg=dict(type='EMA', factor=32), position='after_depthwise'), )
#: The one place an inverted residual offers.
POSITIONS = ('after_depthwise', )
_NOT_GIVEN = object()


@MODELS.register_module()
class PluginMobileNetV2(MobileNetV2):
    """mmpretrain's ``MobileNetV2`` with plugins in its wide blocks.

    The EMA paper (arXiv 2305.13563) puts EMA after the depthwise conv+BN of
    the inverted residual blocks with more than 144 hidden channels: that is
    the default. Blocks at or under the threshold are mmpretrain's own, and
    with ``plugins=None`` the network, its output and its ``state_dict``
    keys are mmpretrain's ``MobileNetV2``.

    Args:
        plugins (Sequence[dict], optional): Plugin specs as every mmema
            backbone takes them, ``dict(cfg=..., stages=...,
            position='after_depthwise')``: ``stages`` has one bool per
            stage (7), ``position`` may be left out. Each goes into every
            block of its stages wider than ``plugin_hidden_threshold``,
            built with ``in_channels`` set to the block's hidden width.
            None builds the plain MobileNetV2. Defaults to
            :data:`PAPER_PLUGINS`.
        plugin_hidden_threshold (int): Blocks whose hidden width
            (``round(in_channels * expand_ratio)``) exceeds this get the
            plugins. Defaults to 144.
        plugin_cfg (dict, optional): Deprecated: one plugin's ``cfg`` for
            every stage; ``plugin_cfg=X`` is ``plugins=[dict(cfg=X)]`` and
            ``plugin_cfg=None`` is ``plugins=None``.
        **kwargs: Other arguments of mmpretrain's ``MobileNetV2``.
    """

    def __init__(self,
                 plugins: Optional[Sequence[dict]] = PAPER_PLUGINS,
                 plugin_hidden_threshold: int = 144,
                 plugin_cfg: Optional[dict] = _NOT_GIVEN,
                 **kwargs: Any) -> None:
        if plugin_cfg is not _NOT_GIVEN:
            if plugins is not PAPER_PLUGINS:
                raise ValueError(
                    'PluginMobileNetV2 takes plugins or the deprecated '
                    'plugin_cfg, not both: keep plugins.')
            warnings.warn(
                'PluginMobileNetV2: plugin_cfg is deprecated; write '
                'plugins=[dict(cfg=...)] as in every mmema backbone '
                '(plugin_cfg=None is plugins=None).', DeprecationWarning)
            plugins = None if plugin_cfg is None else [dict(cfg=plugin_cfg)]
        if (isinstance(plugin_hidden_threshold, bool)
                or not isinstance(plugin_hidden_threshold, int)
                or plugin_hidden_threshold < 0):
            raise ValueError('plugin_hidden_threshold must be an int >= 0 '
                             '(144 in the paper), got '
                             f'{plugin_hidden_threshold!r}.')
        # Read by make_layer, which MobileNetV2.__init__ calls for each stage.
        self.plugins = plugins
        self.plugin_hidden_threshold = plugin_hidden_threshold
        super().__init__(**kwargs)

    def make_layer(self, out_channels: int, num_blocks: int, stride: int,
                   expand_ratio: int) -> nn.Sequential:
        """Stack inverted residual blocks, with the plugins in wide ones.

        Args:
            out_channels (int): Output channels of each block.
            num_blocks (int): Number of blocks.
            stride (int): Stride of the first block.
            expand_ratio (int): Hidden width over input width.

        Returns:
            nn.Sequential: The blocks of one stage.
        """
        # MobileNetV2.__init__ appends each stage's name after building it.
        specs = select_stage_plugins(
            self.plugins,
            len(self.layers),
            len(self.arch_settings),
            type(self).__name__,
            POSITIONS,
            default_position=POSITIONS[0])
        layers = []
        for i in range(num_blocks):
            block_args = dict(
                in_channels=self.in_channels,
                out_channels=out_channels,
                stride=stride if i == 0 else 1,
                expand_ratio=expand_ratio,
                conv_cfg=self.conv_cfg,
                norm_cfg=self.norm_cfg,
                act_cfg=self.act_cfg,
                with_cp=self.with_cp)
            hidden_channels = int(round(self.in_channels * expand_ratio))
            if specs and hidden_channels > self.plugin_hidden_threshold:
                block = PluginInvertedResidual(plugins=specs, **block_args)
            else:
                block = InvertedResidual(**block_args)
            layers.append(block)
            self.in_channels = out_channels
        return nn.Sequential(*layers)
