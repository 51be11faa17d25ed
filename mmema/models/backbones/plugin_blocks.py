# Copyright (c) mmema contributors. All rights reserved.
"""mmpretrain's ResNet blocks with mmdet-style plugins.

Without plugins each block computes exactly what its mmpretrain parent does,
and its ``state_dict`` keys are the parent's plus the plugins' own.
"""
from typing import Any, Optional, Sequence

import torch
import torch.utils.checkpoint as cp
from mmpretrain.models.backbones.resnet import BasicBlock, Bottleneck

from .block_plugins import BlockPluginsMixin


class CheckpointedBlockForward:
    """``forward`` of both blocks: ``_inner_forward`` (under activation
    checkpointing when ``with_cp``), then the final ReLU, as mmpretrain's
    blocks do, but as a method so subclasses supply ``_inner_forward``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Residual block with plugins.

        Args:
            x (Tensor): Input of shape (B, in_channels, H, W).

        Returns:
            Tensor: Output of shape (B, out_channels, H / stride, W / stride).
        """
        if self.with_cp and x.requires_grad:
            out = cp.checkpoint(self._inner_forward, x, use_reentrant=False)
        else:
            out = self._inner_forward(x)
        return self.relu(out)


class PluginBasicBlock(CheckpointedBlockForward, BlockPluginsMixin,
                       BasicBlock):
    """mmpretrain's ``BasicBlock`` (ResNet-18/34) with plugins.

    Positions: ``after_conv1`` (after conv1+norm1+relu, ``mid_channels``) and
    ``after_conv2`` (after conv2+norm2, before the residual add,
    ``out_channels``). ``after_conv2`` is where a ``Bottleneck`` has
    ``after_conv3``.

    Args:
        *args: Positional arguments of mmpretrain's ``BasicBlock``.
        plugins (Sequence[dict], optional): Plugins of this block, each
            ``dict(cfg=dict(type=...), position=...)``. Defaults to None.
        **kwargs: Keyword arguments of mmpretrain's ``BasicBlock``.
    """

    def __init__(self,
                 *args: Any,
                 plugins: Optional[Sequence[dict]] = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.init_plugins(plugins, {
            'after_conv1': self.mid_channels,
            'after_conv2': self.out_channels
        })

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.norm1(self.conv1(x)))  # (B, mid, H', W')
        out = self.forward_plugins(out, 'after_conv1')
        out = self.norm2(self.conv2(out))  # (B, out, H', W')
        out = self.forward_plugins(out, 'after_conv2')
        return self.drop_path(out) + identity


class PluginBottleneck(CheckpointedBlockForward, BlockPluginsMixin,
                       Bottleneck):
    """mmpretrain's ``Bottleneck`` (ResNet-50/101/152) with plugins.

    Positions, as in mmdet's ``Bottleneck``: ``after_conv1`` (after
    conv1+norm1+relu, ``mid_channels``), ``after_conv2`` (after
    conv2+norm2+relu, ``mid_channels``) and ``after_conv3`` (after
    conv3+norm3, before the residual add, ``out_channels``).

    Args:
        *args: Positional arguments of mmpretrain's ``Bottleneck``.
        plugins (Sequence[dict], optional): Plugins of this block, each
            ``dict(cfg=dict(type=...), position=...)``. Defaults to None.
        **kwargs: Keyword arguments of mmpretrain's ``Bottleneck``.
    """

    def __init__(self,
                 *args: Any,
                 plugins: Optional[Sequence[dict]] = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.init_plugins(
            plugins, {
                'after_conv1': self.mid_channels,
                'after_conv2': self.mid_channels,
                'after_conv3': self.out_channels
            })

    def _inner_forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.norm1(self.conv1(x)))  # (B, mid, H, W)
        out = self.forward_plugins(out, 'after_conv1')
        out = self.relu(self.norm2(self.conv2(out)))  # (B, mid, H', W')
        out = self.forward_plugins(out, 'after_conv2')
        out = self.norm3(self.conv3(out))  # (B, out, H', W')
        out = self.forward_plugins(out, 'after_conv3')
        return self.drop_path(out) + identity
