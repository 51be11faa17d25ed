# Copyright (c) mmema contributors. All rights reserved.
"""mmpretrain's ResNet and MobileNetV2 blocks with plugins at named places.

A backbone keeps the specs of one stage with
:func:`mmema.models.plugin_spec.select_stage_plugins`; each block here
builds them at its positions with :class:`BlockPluginsMixin` and runs them
in its forward. Without plugins each block computes exactly what its
mmpretrain parent does, and its ``state_dict`` keys are the parent's plus
the plugins' own.
"""
from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.utils.checkpoint as cp
from mmpretrain.models.backbones.mobilenet_v2 import InvertedResidual
from mmpretrain.models.backbones.resnet import BasicBlock, Bottleneck

from ..plugin_spec import add_plugin, build_plugin, check_plugin


class BlockPluginsMixin:
    """Builds plugins at named positions of a block and runs them.

    The host block calls :meth:`init_plugins` at the end of ``__init__`` with
    the channels at each of its positions, and :meth:`forward_plugins` at each
    position of its ``_inner_forward``, which its ``forward`` runs through
    :meth:`checkpointed_inner_forward`. Plugins are built by mmcv's
    ``build_plugin_layer``: the attribute name is the plugin's ``_abbr_`` plus
    ``cfg['postfix']``, so several plugins of one type need distinct postfixes.
    """

    #: Appended to the error for a position the block does not offer;
    #: ``{last}`` is the block's last position.
    position_hint = ''

    def init_plugins(self, plugins: Optional[Sequence[dict]],
                     channels: Dict[str, int]) -> None:
        """Build the plugins of this block.

        Args:
            plugins (Sequence[dict], optional): Plugins of this block, each
                ``dict(cfg=dict(type=...), position=...)``, run in list order
                at each position.
            channels (dict[str, int]): Channels of the feature map at each
                position the block offers, in forward order.
        """
        self.plugin_names: Dict[str, List[str]] = {
            position: []
            for position in channels
        }
        host = type(self).__name__
        for plugin in plugins or ():
            position = check_plugin(
                plugin,
                host,
                positions=list(channels),
                position_hint=self.position_hint.format(
                    last=list(channels)[-1]))['position']
            name, layer = build_plugin(plugin['cfg'], channels[position],
                                       host, position)
            add_plugin(self, name, layer, host)
            self.plugin_names[position].append(name)

    def checkpointed_inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``self._inner_forward(x)``, under activation checkpointing when
        the block has ``with_cp`` and ``x`` needs a gradient (as
        mmpretrain's blocks run it).

        Args:
            x (Tensor): Input of the block, (B, in_channels, H, W).

        Returns:
            Tensor: What ``_inner_forward`` returns.
        """
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._inner_forward, x, use_reentrant=False)
        return self._inner_forward(x)

    def forward_plugins(self, x: torch.Tensor, position: str) -> torch.Tensor:
        """Run the plugins at ``position`` in order.

        Args:
            x (Tensor): Feature map at ``position``, (B, C, H, W).

        Returns:
            Tensor: The feature map after the plugins, (B, C, H, W) for
            shape-preserving plugins such as EMA.
        """
        for name in self.plugin_names[position]:
            x = getattr(self, name)(x)
        return x


class ResNetPluginBlock(BlockPluginsMixin):
    """What mmpretrain's two ResNet blocks share once they take plugins.

    ``__init__`` builds the parent, then the plugins at the positions of
    :meth:`plugin_positions`; ``forward`` runs the inner forward
    (checkpointed with ``with_cp``), then the final ReLU.

    Args:
        *args: Positional arguments of the mmpretrain block.
        plugins (Sequence[dict], optional): Plugins of this block, each
            ``dict(cfg=dict(type=...), position=...)``. Defaults to None.
        **kwargs: Keyword arguments of the mmpretrain block.
    """

    position_hint = (" {last!r} is after the last conv+norm, before the "
                     "residual add (where a Bottleneck's 'after_conv3' is).")

    def __init__(self,
                 *args: Any,
                 plugins: Optional[Sequence[dict]] = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.init_plugins(plugins, self.plugin_positions())

    def plugin_positions(self) -> Dict[str, int]:
        """Channels of the feature map at each position, in forward order.

        Returns:
            dict[str, int]: Position name to channels.
        """
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual block with plugins.

        Args:
            x (Tensor): Input of shape (B, in_channels, H, W).

        Returns:
            Tensor: Output of shape (B, out_channels, H / stride, W / stride).
        """
        return self.relu(self.checkpointed_inner_forward(x))


class PluginBasicBlock(ResNetPluginBlock, BasicBlock):
    """mmpretrain's ``BasicBlock`` (ResNet-18/34) with plugins.

    Positions: ``after_conv1`` (after conv1+norm1+relu, ``mid_channels``) and
    ``after_conv2`` (after conv2+norm2, before the residual add,
    ``out_channels``). ``after_conv2`` is where a ``Bottleneck`` has
    ``after_conv3``. Arguments as :class:`ResNetPluginBlock`.
    """

    def plugin_positions(self) -> Dict[str, int]:
        return {
            'after_conv1': self.mid_channels,
            'after_conv2': self.out_channels
        }

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.norm1(self.conv1(x)))  # (B, mid, H', W')
        out = self.forward_plugins(out, 'after_conv1')
        out = self.norm2(self.conv2(out))  # (B, out, H', W')
        out = self.forward_plugins(out, 'after_conv2')
        return self.drop_path(out) + identity


class PluginBottleneck(ResNetPluginBlock, Bottleneck):
    """mmpretrain's ``Bottleneck`` (ResNet-50/101/152) with plugins.

    Positions, as in mmdet's ``Bottleneck``: ``after_conv1`` (after
    conv1+norm1+relu, ``mid_channels``), ``after_conv2`` (after
    conv2+norm2+relu, ``mid_channels``) and ``after_conv3`` (after
    conv3+norm3, before the residual add, ``out_channels``). Arguments as
    :class:`ResNetPluginBlock`.
    """

    def plugin_positions(self) -> Dict[str, int]:
        return {
            'after_conv1': self.mid_channels,
            'after_conv2': self.mid_channels,
            'after_conv3': self.out_channels
        }

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.norm1(self.conv1(x)))  # (B, mid, H, W)
        out = self.forward_plugins(out, 'after_conv1')
        out = self.relu(self.norm2(self.conv2(out)))  # (B, mid, H', W')
        out = self.forward_plugins(out, 'after_conv2')
        out = self.norm3(self.conv3(out))  # (B, out, H', W')
        out = self.forward_plugins(out, 'after_conv3')
        return self.drop_path(out) + identity


class PluginInvertedResidual(BlockPluginsMixin, InvertedResidual):
    """mmpretrain's MobileNetV2 ``InvertedResidual`` with a plugin after the
    depthwise conv.

    The plugin sees the output of the depthwise conv+BN+ReLU6 (the place of
    the SE layer in timm's and mmpretrain's later inverted residuals) and
    feeds the pointwise-linear conv. ``self.conv`` is the parent's, so
    ``state_dict`` keys are the parent's plus the plugin's.

    Args:
        *args: Positional arguments of mmpretrain's ``InvertedResidual``.
        plugins (Sequence[dict], optional): Plugins of this block, each
            ``dict(cfg=dict(type=...), position='after_depthwise')``; their
            ``in_channels`` is the hidden width, ``round(in_channels *
            expand_ratio)``. Defaults to None.
        **kwargs: Keyword arguments of mmpretrain's ``InvertedResidual``.
    """

    def __init__(self,
                 *args: Any,
                 plugins: Optional[Sequence[dict]] = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The last ConvModule is the pointwise-linear conv; its input is the
        # hidden width.
        self.init_plugins(plugins,
                          {'after_depthwise': self.conv[-1].conv.in_channels})

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
        return self.checkpointed_inner_forward(x)
