# Copyright (c) mmema contributors. All rights reserved.
"""YOLOv5's PAFPN over P2-P5, as in YOLOv5's ``yolov5-p2.yaml``."""
from typing import List

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.models.layers import CSPLayer
from mmyolo.models.utils import make_divisible, make_round
from mmyolo.registry import MODELS

from .plugin_yolo_pafpn import PluginYOLOv5PAFPN


@MODELS.register_module()
class YOLOv5P2PAFPN(PluginYOLOv5PAFPN):
    """YOLOv5's P2 neck: four levels, strides 4-32, P2 at P3's width.

    mmyolo's ``YOLOv5PAFPN`` halves the width at each finer level; YOLOv5's
    P2 head (``yolov5-p2.yaml``, which the EMA paper's ``yolov5xP2EMA.yaml``
    extends) keeps the P3 width below P3. Against ``YOLOv5PAFPN`` over the
    same four inputs, three layers differ (widths before ``widen_factor``,
    with ``in_channels=[128, 256, 512, 1024]`` and
    ``out_channels=[256, 256, 512, 1024]``):

    - P3's top-down lateral 1x1 conv keeps 256 channels (not 128);
    - P2's top-down C3 takes the upsampled 256 and the backbone's 128 and
      gives ``out_channels[0]`` (256);
    - P2's bottom-up 3x3 stride-2 conv works at 256, and P3's bottom-up C3
      takes 256 + 256.

    The P3-P5 levels are ``YOLOv5PAFPN``'s. Plugins as
    :class:`~mmema.models.yolo.PluginYOLOv5PAFPN` (one bool per level).

    Args:
        in_channels (list[int]): Backbone channels of P2-P5, before
            ``widen_factor``.
        out_channels (list[int]): Output channels of P2-P5, before
            ``widen_factor``; only the P2 entry sets a layer, the others
            equal ``in_channels`` as in ``YOLOv5PAFPN``.
        **kwargs: Other arguments of ``PluginYOLOv5PAFPN``.
    """

    def __init__(self, in_channels: List[int], out_channels: List[int],
                 **kwargs) -> None:
        if len(in_channels) != 4 or len(out_channels) != 4:
            raise ValueError(
                'YOLOv5P2PAFPN takes P2-P5: four in_channels and four '
                f'out_channels, e.g. [128, 256, 512, 1024] and [256, 256, '
                f'512, 1024]; got {in_channels} and {out_channels}.')
        super().__init__(in_channels, out_channels, **kwargs)

    def _width(self, channels: int) -> int:
        return make_divisible(channels, self.widen_factor)

    def _conv(self, in_channels: int, out_channels: int, kernel_size: int,
              stride: int) -> ConvModule:
        """ConvModule between widths already scaled by ``widen_factor``."""
        return ConvModule(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=kernel_size // 2,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)

    def _csp(self, in_channels: int, out_channels: int) -> CSPLayer:
        """C3 between widths already scaled by ``widen_factor``."""
        return CSPLayer(
            in_channels,
            out_channels,
            num_blocks=make_round(self.num_csp_blocks, self.deepen_factor),
            add_identity=False,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)

    def build_top_down_layer(self, idx: int) -> nn.Module:
        """Top-down layer of level ``idx - 1`` (P2 is level 0).

        Args:
            idx (int): Index of the coarser input, 1-3.

        Returns:
            nn.Module: P4's as ``YOLOv5PAFPN``'s; P3's C3 with a lateral
            conv at P3's width; P2's C3 over 256 + 128 channels.
        """
        p2, p3 = (self._width(c) for c in self.in_channels[:2])
        if idx == 2:
            return nn.Sequential(
                self._csp(p3 * 2, p3), self._conv(p3, p3, 1, 1))
        if idx == 1:
            return self._csp(p3 + p2, self._width(self.out_channels[0]))
        return super().build_top_down_layer(idx)

    def build_downsample_layer(self, idx: int) -> nn.Module:
        """Stride-2 conv from level ``idx``; P2's works at its own width.

        Args:
            idx (int): Level of the input, 0-2.

        Returns:
            nn.Module: The conv.
        """
        if idx == 0:
            p2_out = self._width(self.out_channels[0])
            return self._conv(p2_out, p2_out, 3, 2)
        return super().build_downsample_layer(idx)

    def build_bottom_up_layer(self, idx: int) -> nn.Module:
        """Bottom-up C3 of level ``idx + 1``; P3's takes P2's width + P3's.

        Args:
            idx (int): Level of the finer input, 0-2.

        Returns:
            nn.Module: The C3 layer.
        """
        if idx == 0:
            p3 = self._width(self.in_channels[1])
            return self._csp(self._width(self.out_channels[0]) + p3, p3)
        return super().build_bottom_up_layer(idx)
