# Copyright (c) mmema contributors. All rights reserved.
"""CSPDarknet that takes ``plugins`` like mmdet's ResNet."""
from typing import List, Optional

from mmdet.models.backbones import CSPDarknet
from mmdet.registry import MODELS

from ..plugin_spec import (append_plugins, csp_out_channels,
                           select_stage_plugins)


@MODELS.register_module()
class PluginCSPDarknet(CSPDarknet):
    """CSPDarknet (YOLOv5, YOLOX) with plugin layers after chosen stages.

    mmdet's ``CSPDarknet`` takes no ``plugins``
    (open-mmlab/mmdetection#9082). This subclass appends each plugin to the
    end of the chosen stages, after the stage's CSP layer, e.g. EMA after
    the CSP blocks of P4 and P5 as in the EMA paper's YOLOv5s:

    .. code-block:: python

        plugins=[dict(cfg=dict(type='EMA', factor=32),
                      stages=(False, False, True, True))]

    A plugin is built by mmcv's ``build_plugin_layer`` with ``in_channels``
    read from the built stage (``widen_factor`` included), so any plugin
    that keeps its input's shape works (EMA, mmcv's ContextBlock, ...). It
    becomes a child of the stage named after its ``_abbr_`` plus an optional
    ``postfix`` from its cfg (``stage3.ema_attn``): the parent's
    ``state_dict`` keys are unchanged, so a plain CSPDarknet checkpoint loads
    with only the plugin keys missing, and ``frozen_stages`` freezes a
    stage's plugins with it (as in ResNet).

    Args:
        plugins (list[dict], optional): Each ``dict(cfg=..., stages=...)``:
            ``cfg`` builds the plugin (``type`` and its arguments except
            ``in_channels``; ``postfix`` to tell apart two of one type in a
            stage); ``stages`` has one bool per stage (4 for arch 'P5', 5
            for 'P6'), or is omitted / None for every stage. Defaults to
            None (exactly ``CSPDarknet``).
        **kwargs: Arguments of mmdet's ``CSPDarknet`` (``arch``,
            ``deepen_factor``, ``widen_factor``, ``frozen_stages``, ...).
    """

    def __init__(self, plugins: Optional[List[dict]] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        self.plugins = plugins
        stage_names = self.layers[1:]
        for stage_idx, stage_name in enumerate(stage_names):
            host = f'{type(self).__name__} {stage_name}'
            cfgs = [
                plugin['cfg'] for plugin in select_stage_plugins(
                    plugins, stage_idx, len(stage_names), host)
            ]
            stage = getattr(self, stage_name)
            # mmdet's stages end in their CSP layer (SPP comes before it).
            append_plugins(stage, cfgs, csp_out_channels(stage[-1], host),
                           host, 'the end')
