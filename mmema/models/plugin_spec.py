# Copyright (c) mmema contributors. All rights reserved.
"""The ``plugins`` form every mmema host takes: check, select, build, attach.

A plugin spec is mmdet's ``dict(cfg=dict(type=..., postfix=...),
stages=(...), position=...)``:

- ``cfg`` builds the layer with mmcv's ``build_plugin_layer``; the host
  passes ``in_channels``, and the layer's name in the host is the class's
  ``_abbr_`` plus ``cfg['postfix']`` (``ema_attn``, ``ema_attn_2``);
- ``stages`` holds one bool per stage (backbones) or per level (necks) of
  the host; without it the plugin goes everywhere;
- ``position`` names one of the places the host offers (``after_conv3`` in
  a ResNet bottleneck, ``after_csp`` in a YOLO stage, ...); hosts with a
  single place take none.

Backbones and necks call :func:`select_stage_plugins` for each stage or
level, then :func:`build_plugin` for each selected ``cfg``;
:func:`append_plugins` runs built plugins after a layer's own forward.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import build_plugin_layer

PLUGIN_EXAMPLE = ("dict(cfg=dict(type='EMA', factor=32), "
                  "stages=(False, True, True, True), position='after_conv3')")


def check_plugin(plugin: object,
                 host: str,
                 positions: Sequence[str] = (),
                 num_stages: Optional[int] = None,
                 position_hint: str = '',
                 default_position: Optional[str] = None) -> dict:
    """Check one plugin spec against what its host offers.

    Args:
        plugin (object): The spec.
        host (str): The host's name, for error messages.
        positions (Sequence[str]): Positions the host offers; the spec must
            name one. Empty for hosts that take no ``position``.
            Defaults to ().
        num_stages (int, optional): Stages (or levels) of the host, the
            length ``stages`` must have; None where the spec is already
            one stage's (a block's), which takes no ``stages``.
            Defaults to None.
        position_hint (str): Appended to the error for a bad position.
            Defaults to ''.
        default_position (str, optional): The position of a spec that
            names none. Defaults to None (the spec must name one).

    Returns:
        dict: A copy of the spec without ``stages``, with its position.
    """
    if not isinstance(plugin, dict) or 'cfg' not in plugin:
        raise TypeError(f'{host}: each plugin must be a dict with a cfg, '
                        f'like {PLUGIN_EXAMPLE}, got {plugin!r}.')
    allowed = ('cfg', ) + (('stages', ) if num_stages else
                           ()) + (('position', ) if positions else ())
    unknown = sorted(set(plugin) - set(allowed))
    if 'position' in unknown:
        raise ValueError(
            f'{host} puts each plugin at the end of the chosen stages and '
            f'takes no position: remove position from {plugin}.')
    if unknown:
        raise KeyError(f'{host}: plugin {plugin} has unknown keys {unknown}; '
                       f'allowed keys are {list(allowed)}. A postfix goes '
                       "inside cfg: cfg=dict(type='EMA', postfix='_2').")
    stages = plugin.get('stages')
    if stages is not None and not (
            isinstance(stages, (list, tuple)) and len(stages) == num_stages
            and all(isinstance(s, bool) for s in stages)):
        raise ValueError(
            f'{host}: plugin {plugin}: stages must hold one bool per stage '
            f'({num_stages} here), e.g. {(True, ) * num_stages}, got '
            f'{stages!r}.')
    position = plugin.get('position', default_position)
    if positions and position not in positions:
        raise ValueError(
            f'{host} has plugin positions {list(positions)}, got '
            f'position={position!r} in {plugin}.{position_hint}')
    cfg = plugin['cfg']
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise TypeError(f"{host}: plugin {plugin}: cfg must be a dict with "
                        "a 'type', e.g. cfg=dict(type='EMA', factor=32).")
    if 'in_channels' in cfg:
        raise ValueError(
            f'{host}: remove in_channels from the plugin cfg {cfg!r}; the '
            'host passes the channels of the place the plugin goes.')
    checked = {key: value for key, value in plugin.items() if key != 'stages'}
    if positions:
        checked['position'] = position
    return checked


def check_plugins(plugins: Optional[Sequence[dict]],
                  num_stages: int,
                  host: str = 'backbone',
                  positions: Sequence[str] = (),
                  default_position: Optional[str] = None
                  ) -> List[Tuple[dict, Optional[Tuple[bool, ...]]]]:
    """Check every plugin spec of a host, with the stages each one takes.

    Args:
        plugins (Sequence[dict], optional): The host's ``plugins``.
        num_stages (int): Stages (or levels) of the host: the length of
            every ``stages``.
        host (str): The host's name, for error messages. Defaults to
            ``'backbone'``.
        positions (Sequence[str]): Positions the host offers, each spec
            must name one; empty for hosts that take no ``position``.
            Defaults to ().
        default_position (str, optional): The position of specs that name
            none. Defaults to None (each spec must name one).

    Returns:
        list[tuple[dict, tuple[bool, ...] | None]]: In list order, each
        spec (a copy without ``stages``, see :func:`check_plugin`) and its
        ``stages`` (None: every stage).
    """
    if plugins is None:
        return []
    if not isinstance(plugins, (list, tuple)):
        raise TypeError(f'{host}: plugins must be a list of dicts like '
                        f'[{PLUGIN_EXAMPLE}] or None, got {plugins!r}.')
    checked = []
    for plugin in plugins:
        spec = check_plugin(
            plugin,
            host,
            positions,
            num_stages,
            default_position=default_position)
        stages = plugin.get('stages')
        checked.append((spec, None if stages is None else tuple(stages)))
    return checked


def select_stage_plugins(plugins: Optional[Sequence[dict]],
                         stage_idx: int,
                         num_stages: int,
                         host: str = 'backbone',
                         positions: Sequence[str] = (),
                         default_position: Optional[str] = None) -> List[dict]:
    """Check every plugin spec and keep those that apply to one stage.

    Args:
        plugins (Sequence[dict], optional): The host's ``plugins``.
        stage_idx (int): Index of the stage being built, from 0.
        num_stages (int): Stages of the host.
        host (str): The host's name, for error messages. Defaults to
            ``'backbone'``.
        positions (Sequence[str]): Positions the host offers (see
            :func:`check_plugins`). Defaults to ().
        default_position (str, optional): The position of specs that name
            none. Defaults to None.

    Returns:
        list[dict]: Copies of the specs for this stage, without
        ``stages``, in list order.
    """
    return [
        spec for spec, stages in check_plugins(
            plugins, num_stages, host, positions, default_position)
        if stages is None or stages[stage_idx]
    ]


def build_plugin(cfg: dict, in_channels: int, host: str,
                 place: str) -> Tuple[str, nn.Module]:
    """Build one plugin layer; errors name where it was to go.

    Args:
        cfg (dict): The spec's ``cfg``: ``type``, the plugin's arguments
            and an optional ``postfix``.
        in_channels (int): Channels of the feature map at its place.
        host (str): The host, for error messages, e.g.
            ``'PluginYOLOv5CSPDarknet stage4'``.
        place (str): The place in the host, e.g. ``'after_csp'``.

    Returns:
        tuple[str, nn.Module]: The layer's name (``_abbr_`` + postfix) and
        the layer.
    """
    cfg = dict(cfg)
    postfix = cfg.pop('postfix', '')
    where = f'{host}: plugin {cfg} at {place} (in_channels={in_channels})'
    try:
        return build_plugin_layer(
            cfg, postfix=postfix, in_channels=in_channels)
    except KeyError as err:
        raise KeyError(f'{where}: {err}. Is the type registered? Import '
                       'its package with custom_imports.') from err
    except (TypeError, ValueError) as err:
        raise type(err)(f'{where}: {err}') from err


def add_plugin(parent: nn.Module, name: str, layer: nn.Module,
               host: str) -> None:
    """Register a built plugin as a child of ``parent`` under ``name``.

    Args:
        parent (nn.Module): The module that runs the plugin.
        name (str): From :func:`build_plugin`.
        layer (nn.Module): The plugin.
        host (str): The host, for the error message.
    """
    if hasattr(parent, name):
        raise ValueError(
            f'{host}: there is already a layer named {name!r}. Give each '
            'plugin of one type at one place a distinct postfix in its cfg, '
            "e.g. cfg=dict(type='EMA', postfix='_2').")
    parent.add_module(name, layer)


def _run_appended_plugins(layer: nn.Module, inputs: tuple,
                          output: torch.Tensor) -> torch.Tensor:
    """Forward hook of :func:`append_plugins`: the plugins, in order."""
    for name in layer.appended_plugins:
        output = getattr(layer, name)(output)
    return output


def append_plugins(layer: nn.Module, cfgs: Sequence[dict], in_channels: int,
                   host: str, place: str) -> List[str]:
    """Build plugins and run them, in order, on ``layer``'s output.

    The plugins become children of ``layer`` (``stage4.1.ema_attn``), so
    the ``state_dict`` keys of ``layer`` and of everything around it are
    unchanged: a checkpoint of the plain host loads with only the plugins'
    keys missing. An ``nn.Sequential`` runs its new last children itself;
    any other layer runs them from a forward hook, and does so wherever it
    is called from (the next layer, a skip connection, the head).

    Args:
        layer (nn.Module): The layer whose output the plugins take.
        cfgs (Sequence[dict]): Plugin ``cfg`` dicts (see
            :func:`build_plugin`).
        in_channels (int): Channels of ``layer``'s output.
        host (str): The host, for error messages.
        place (str): The place in the host, for error messages.

    Returns:
        list[str]: The names of the plugins added.
    """
    names = []
    for cfg in cfgs:
        name, plugin = build_plugin(cfg, in_channels, host, place)
        add_plugin(layer, name, plugin, host)
        names.append(name)
    if names and not isinstance(layer, nn.Sequential):
        if not hasattr(layer, 'appended_plugins'):
            layer.appended_plugins = []
            layer.register_forward_hook(_run_appended_plugins)
        layer.appended_plugins += names
    return names


def csp_out_channels(layer: nn.Module, host: str) -> int:
    """Output channels of a CSP layer, read from its last conv.

    Args:
        layer (nn.Module): mmdet's ``CSPLayer`` or mmyolo's
            ``CSPLayerWithTwoConv`` (both end in ``final_conv``).
        host (str): The host, for the error message.

    Returns:
        int: Channels of the layer's output.
    """
    final_conv = getattr(layer, 'final_conv', None)
    if final_conv is None:
        raise TypeError(f'{host}: {type(layer).__name__} has no final_conv, '
                        'so the channels a plugin there sees are unknown.')
    return final_conv.out_channels
