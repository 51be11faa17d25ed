# Copyright (c) mmema contributors. All rights reserved.
"""mmyolo's YOLOv5 and YOLOv8 backbones with plugins before SPPF too."""
from typing import List

import torch.nn as nn
from mmyolo.models.backbones import YOLOv5CSPDarknet, YOLOv8CSPDarknet
from mmyolo.registry import MODELS

from ..plugin_spec import (append_plugins, build_plugin, csp_out_channels,
                           select_stage_plugins)

#: Where a stage takes plugins: right after its CSP layer, or at its end
#: (mmyolo's own place: after SPPF in the last stage).
STAGE_POSITIONS = ('after_csp', 'after_stage')


class YOLOStagePluginsMixin:
    """``plugins`` at two places of each stage of an mmyolo CSP backbone.

    mmyolo's ``BaseBackbone`` appends stage plugins after the stage's last
    layer, which in the last stage is SPPF. The EMA paper's YOLOv5s
    (``yolov5s_EMA.yaml`` of the official repository) has EMA right after
    the C3 (CSP) layers of P4 and P5, so before SPPF. A spec's ``position``
    picks the place:

    - ``'after_csp'``: after the stage's CSP layer. The plugin is a child
      of that layer (``stage4.1.ema_attn``), run on its output; every other
      ``state_dict`` key is the parent's, so a plain mmyolo checkpoint
      loads with only the plugins' keys missing.
    - ``'after_stage'`` (the default, mmyolo's behaviour): appended to the
      stage, named by index as mmyolo names it (``stage4.3``).

    ``in_channels`` is read from the built CSP layer (mmyolo's own helper
    rounds ``widen_factor`` differently from the layers it builds).
    """

    def build_stage_layer(self, stage_idx: int, setting: list) -> list:
        """Build one stage of the parent, with its plugins in place.

        Args:
            stage_idx (int): Index of the stage, from 0.
            setting (list): The stage's row of ``arch_settings``.

        Returns:
            list[nn.Module]: The stage's layers, ``after_stage`` plugins
            last.
        """
        layers = super().build_stage_layer(stage_idx, setting)
        host = f'{type(self).__name__} stage{stage_idx + 1}'
        specs = select_stage_plugins(
            self.plugins,
            stage_idx,
            self.num_stages,
            host,
            STAGE_POSITIONS,
            default_position='after_stage')
        csp = next(layer for layer in layers if hasattr(layer, 'final_conv'))
        channels = csp_out_channels(csp, host)
        append_plugins(
            csp, [s['cfg'] for s in specs if s['position'] == 'after_csp'],
            channels, host, 'after_csp')
        for spec in specs:
            if spec['position'] == 'after_stage':
                layers.append(
                    build_plugin(spec['cfg'], channels, host,
                                 'after_stage')[1])
        return layers

    def make_stage_plugins(self, plugins: List[dict], stage_idx: int,
                           setting: list) -> List[nn.Module]:
        """None: :meth:`build_stage_layer` has placed the stage's plugins.

        Args:
            plugins (list[dict]): The backbone's plugin specs.
            stage_idx (int): Index of the stage, from 0.
            setting (list): The stage's row of ``arch_settings``.

        Returns:
            list[nn.Module]: An empty list.
        """
        return []


@MODELS.register_module()
class PluginYOLOv5CSPDarknet(YOLOStagePluginsMixin, YOLOv5CSPDarknet):
    """mmyolo's ``YOLOv5CSPDarknet`` (v6.x) with plugins after its C3 layers.

    EMA where the EMA paper's YOLOv5s has it, after the C3 layers of P4
    and P5 (before SPPF):

    .. code-block:: python

        plugins=[dict(cfg=dict(type='EMA', factor=32),
                      stages=(False, False, True, True),
                      position='after_csp')]

    Args:
        plugins (list[dict], optional): Each ``dict(cfg=..., stages=...,
            position=...)``; ``position`` is ``'after_csp'`` or
            ``'after_stage'`` (the default). Defaults to None (exactly
            ``YOLOv5CSPDarknet``).
        **kwargs: Other arguments of mmyolo's ``YOLOv5CSPDarknet``.
    """


@MODELS.register_module()
class PluginYOLOv8CSPDarknet(YOLOStagePluginsMixin, YOLOv8CSPDarknet):
    """mmyolo's ``YOLOv8CSPDarknet`` with plugins after its C2f layers.

    Arguments as :class:`PluginYOLOv5CSPDarknet`: ``position='after_csp'``
    puts a plugin after the stage's ``CSPLayerWithTwoConv`` (C2f), before
    SPPF in the last stage.
    """
