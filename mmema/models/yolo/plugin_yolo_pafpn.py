# Copyright (c) mmema contributors. All rights reserved.
"""mmyolo's PAFPN necks with plugins after their CSP layers."""
from typing import List, Optional

import torch.nn as nn
from mmyolo.models.necks import YOLOv5PAFPN, YOLOv8PAFPN
from mmyolo.registry import MODELS

from ..plugin_spec import append_plugins, check_plugins, csp_out_channels

#: Where a level takes plugins: after the CSP layer of the top-down path
#: (before YOLOv5's lateral 1x1 conv) or of the bottom-up path.
NECK_POSITIONS = ('after_top_down', 'after_bottom_up')


def _csp_of(layer: nn.Module) -> nn.Module:
    """The CSP layer of a path layer: itself, or YOLOv5's (CSP, conv)."""
    if hasattr(layer, 'final_conv'):
        return layer
    return next(m for m in layer.children() if hasattr(m, 'final_conv'))


class NeckPluginsMixin:
    """``plugins`` after the CSP layers of an mmyolo PAFPN, by level.

    A spec's ``stages`` has one bool per level (``len(in_channels)``, from
    the finest), and its ``position`` is ``'after_top_down'`` or
    ``'after_bottom_up'``. The top-down path has a CSP layer at every
    level but the coarsest, the bottom-up path at every level but the
    finest; a spec without ``stages`` goes to every level its path has.
    The plugin is a child of the CSP layer (``top_down_layers.0.0.ema_attn``)
    and takes its output wherever it goes: in YOLOv5's top-down path the
    lateral 1x1 conv, at the finest level also the head and the bottom-up
    path. Every other ``state_dict`` key is the parent's.

    Example (EMA after the top-down CSP layers of P3 and P4 and the
    bottom-up one of P4)::

        plugins=[
            dict(cfg=dict(type='EMA'), stages=(True, True, False),
                 position='after_top_down'),
            dict(cfg=dict(type='EMA'), stages=(False, True, False),
                 position='after_bottom_up')]
    """

    def __init__(self, *args, plugins: Optional[List[dict]] = None,
                 **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.plugins = plugins
        num_levels = len(self.in_channels)
        # top_down_layers[j] builds level L-2-j; bottom_up_layers[j] level
        # j+1 (BaseYOLONeck.forward).
        path_layers = {
            'after_top_down': {
                num_levels - 2 - j: layer
                for j, layer in enumerate(self.top_down_layers)
            },
            'after_bottom_up': {
                j + 1: layer
                for j, layer in enumerate(self.bottom_up_layers)
            },
        }
        host = type(self).__name__
        for spec, stages in check_plugins(plugins, num_levels, host,
                                          NECK_POSITIONS):
            position = spec['position']
            layers = path_layers[position]
            levels = sorted(layers) if stages is None else [
                level for level, on in enumerate(stages) if on
            ]
            missing = [level for level in levels if level not in layers]
            if missing:
                path = position.replace('after_', '')
                raise ValueError(
                    f'{host}: {spec} asks for levels {missing}, where the '
                    f'{path} path has no CSP layer (it has levels '
                    f'{sorted(layers)}): set stages to False there.')
            for level in levels:
                csp = _csp_of(layers[level])
                level_host = f'{host} level {level}'
                append_plugins(csp, [spec['cfg']],
                               csp_out_channels(csp, level_host), level_host,
                               position)


@MODELS.register_module()
class PluginYOLOv5PAFPN(NeckPluginsMixin, YOLOv5PAFPN):
    """mmyolo's ``YOLOv5PAFPN`` with plugins after its C3 (CSP) layers.

    Args:
        plugins (list[dict], optional): See :class:`NeckPluginsMixin`.
            Defaults to None (exactly ``YOLOv5PAFPN``).
        **kwargs: Arguments of mmyolo's ``YOLOv5PAFPN``.
    """


@MODELS.register_module()
class PluginYOLOv8PAFPN(NeckPluginsMixin, YOLOv8PAFPN):
    """mmyolo's ``YOLOv8PAFPN`` with plugins after its C2f layers.

    Args:
        plugins (list[dict], optional): See :class:`NeckPluginsMixin`.
            Defaults to None (exactly ``YOLOv8PAFPN``).
        **kwargs: Arguments of mmyolo's ``YOLOv8PAFPN``.
    """
