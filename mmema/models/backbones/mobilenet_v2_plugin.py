# Copyright (c) mmema contributors. All rights reserved.
"""mmpretrain's MobileNetV2 with EMA where the EMA paper puts it."""
from typing import Any, Optional

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmpretrain.models.backbones import MobileNetV2
from mmpretrain.models.backbones.mobilenet_v2 import InvertedResidual
from mmpretrain.registry import MODELS

from .block_plugins import BlockPluginsMixin


class PluginInvertedResidual(BlockPluginsMixin, InvertedResidual):
    """mmpretrain's MobileNetV2 ``InvertedResidual`` with a plugin after the
    depthwise conv.

    The plugin sees the output of the depthwise conv+BN+ReLU6 (the place of
    the SE layer in timm's and mmpretrain's later inverted residuals) and
    feeds the pointwise-linear conv. ``self.conv`` is the parent's, so
    ``state_dict`` keys are the parent's plus the plugin's.

    Args:
        *args: Positional arguments of mmpretrain's ``InvertedResidual``.
        plugin_cfg (dict): Config of the plugin, e.g.
            ``dict(type='EMA', factor=32)``; ``in_channels`` is the hidden
            width, ``round(in_channels * expand_ratio)``.
        **kwargs: Keyword arguments of mmpretrain's ``InvertedResidual``.
    """

    def __init__(self, *args: Any, plugin_cfg: dict, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The last ConvModule is the pointwise-linear conv; its input is the
        # hidden width.
        hidden_channels = self.conv[-1].conv.in_channels
        self.init_plugins([dict(cfg=plugin_cfg, position='after_depthwise')],
                          {'after_depthwise': hidden_channels})

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.conv[:-1]:  # [expand conv,] depthwise conv
            out = layer(out)  # (B, hidden, H', W')
        out = self.forward_plugins(out, 'after_depthwise')
        out = self.conv[-1](out)  # (B, out_channels, H', W')
        return x + out if self.use_res_connect else out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Inverted residual block with a plugin.

        Args:
            x (Tensor): Input of shape (B, in_channels, H, W).

        Returns:
            Tensor: Output of shape (B, out_channels, H / stride, W / stride).
        """
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._inner_forward, x, use_reentrant=False)
        return self._inner_forward(x)


@MODELS.register_module()
class PluginMobileNetV2(MobileNetV2):
    """mmpretrain's ``MobileNetV2`` with a plugin in its wide blocks.

    The EMA paper (arXiv 2305.13563) puts EMA after the depthwise conv+BN of
    the inverted residual blocks with more than 144 hidden channels: that is
    the default. Blocks at or under the threshold are mmpretrain's own, and
    with ``plugin_cfg=None`` the network, its output and its ``state_dict``
    keys are mmpretrain's ``MobileNetV2``.

    Args:
        plugin_cfg (dict, optional): Config of the plugin, built by mmcv's
            ``build_plugin_layer`` with ``in_channels`` set to the block's
            hidden width. None builds the plain MobileNetV2.
            Defaults to ``dict(type='EMA', factor=32)``.
        plugin_hidden_threshold (int): Blocks whose hidden width
            (``round(in_channels * expand_ratio)``) exceeds this get the
            plugin. Defaults to 144.
        **kwargs: Other arguments of mmpretrain's ``MobileNetV2``.
    """

    def __init__(self,
                 plugin_cfg: Optional[dict] = dict(type='EMA', factor=32),
                 plugin_hidden_threshold: int = 144,
                 **kwargs: Any) -> None:
        if plugin_cfg is not None and (not isinstance(plugin_cfg, dict)
                                       or 'type' not in plugin_cfg):
            raise TypeError(
                "plugin_cfg must be a dict with a 'type', e.g. "
                f"dict(type='EMA', factor=32), or None; got {plugin_cfg!r}.")
        if (isinstance(plugin_hidden_threshold, bool)
                or not isinstance(plugin_hidden_threshold, int)
                or plugin_hidden_threshold < 0):
            raise ValueError('plugin_hidden_threshold must be an int >= 0 '
                             '(144 in the paper), got '
                             f'{plugin_hidden_threshold!r}.')
        # Read by make_layer, which MobileNetV2.__init__ calls for each stage.
        self.plugin_cfg = plugin_cfg
        self.plugin_hidden_threshold = plugin_hidden_threshold
        super().__init__(**kwargs)

    def make_layer(self, out_channels: int, num_blocks: int, stride: int,
                   expand_ratio: int) -> nn.Sequential:
        """Stack inverted residual blocks, with the plugin in wide ones.

        Args:
            out_channels (int): Output channels of each block.
            num_blocks (int): Number of blocks.
            stride (int): Stride of the first block.
            expand_ratio (int): Hidden width over input width.

        Returns:
            nn.Sequential: The blocks of one stage.
        """
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
            if (self.plugin_cfg is not None
                    and hidden_channels > self.plugin_hidden_threshold):
                block = PluginInvertedResidual(
                    plugin_cfg=self.plugin_cfg, **block_args)
            else:
                block = InvertedResidual(**block_args)
            layers.append(block)
            self.in_channels = out_channels
        return nn.Sequential(*layers)
