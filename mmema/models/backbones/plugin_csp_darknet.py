# Copyright (c) mmema contributors. All rights reserved.
"""CSPDarknet that takes ``plugins`` like mmdet's ResNet."""
from typing import List, Optional

import torch.nn as nn
from mmcv.cnn import build_plugin_layer
from mmdet.models.backbones import CSPDarknet
from mmdet.models.layers import CSPLayer
from mmdet.registry import MODELS

PLUGIN_KEYS = ('cfg', 'stages')


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
        if plugins is None:
            return
        if not isinstance(plugins, (list, tuple)):
            raise TypeError(
                'PluginCSPDarknet: plugins must be a list of '
                'dict(cfg=..., stages=...), got '
                f'{type(plugins).__name__}: {plugins!r}.')
        for plugin in plugins:
            check_plugin(plugin, len(stage_names))
        for stage_idx, stage_name in enumerate(stage_names):
            stage = getattr(self, stage_name)
            in_channels = stage_out_channels(stage)
            for plugin in plugins:
                stages = plugin.get('stages')
                if stages is None or stages[stage_idx]:
                    append_plugin(stage, stage_name, plugin['cfg'],
                                  in_channels)


def check_plugin(plugin: dict, num_stages: int) -> None:
    """Validate one entry of ``plugins``, raising an error that names the fix.

    Args:
        plugin (dict): ``dict(cfg=..., stages=...)``.
        num_stages (int): Stages of the backbone (4 for 'P5', 5 for 'P6').
    """
    if not isinstance(plugin, dict) or 'cfg' not in plugin:
        raise TypeError(
            'PluginCSPDarknet: each plugin must be a dict with a "cfg" key, '
            "e.g. dict(cfg=dict(type='EMA'), stages=(False, False, True, "
            f'True)), got {plugin!r}.')
    unknown = sorted(set(plugin) - set(PLUGIN_KEYS))
    if unknown:
        raise ValueError(
            f'PluginCSPDarknet: unknown plugin keys {unknown} in {plugin!r}. '
            'Plugins are appended at the end of a stage; only "cfg" and '
            '"stages" are accepted ("position" is a ResNet option): '
            'remove the others.')
    stages = plugin.get('stages')
    if stages is not None and len(stages) != num_stages:
        raise ValueError(
            f'PluginCSPDarknet: plugin stages {tuple(stages)} has '
            f'{len(stages)} entries but the backbone has {num_stages} '
            f'stages: give one bool per stage, e.g. {(False, ) * num_stages}.')
    if 'in_channels' in plugin['cfg']:
        raise ValueError(
            'PluginCSPDarknet: remove "in_channels" from the plugin cfg '
            f'{plugin["cfg"]!r}; it is read from the stage the plugin '
            'follows.')


def stage_out_channels(stage: nn.Sequential) -> int:
    """Output channels of a built CSPDarknet stage (its last CSP layer's).

    Args:
        stage (nn.Sequential): Downsampling conv, [SPP,] CSPLayer.

    Returns:
        int: Channels of the stage's output.
    """
    csp_layers = [m for m in stage if isinstance(m, CSPLayer)]
    if not csp_layers:
        raise TypeError(
            'PluginCSPDarknet: a stage without a CSPLayer has no known output '
            f'channels: {stage}.')
    return csp_layers[-1].final_conv.out_channels


def append_plugin(stage: nn.Sequential, stage_name: str, cfg: dict,
                  in_channels: int) -> None:
    """Build a plugin and append it as the last child of ``stage``.

    Args:
        stage (nn.Sequential): The stage to extend.
        stage_name (str): Its name in the backbone, for error messages.
        cfg (dict): Plugin config (``type``, arguments, optional
            ``postfix``).
        in_channels (int): Channels of the stage's output.
    """
    cfg = cfg.copy()
    postfix = cfg.pop('postfix', '')
    name, layer = build_plugin_layer(
        cfg, postfix=postfix, in_channels=in_channels)
    if hasattr(stage, name):
        raise ValueError(
            f'PluginCSPDarknet: {stage_name} already has a plugin named '
            f'"{name}"; give plugins of one type a distinct "postfix" in '
            'their cfg.')
    stage.add_module(name, layer)
