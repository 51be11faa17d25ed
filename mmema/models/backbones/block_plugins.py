# Copyright (c) mmema contributors. All rights reserved.
"""mmdet's ``plugins`` form for residual blocks: select, build and run.

A plugin is ``dict(cfg=dict(type=..., postfix=...), stages=(...),
position='after_conv1')``, exactly as mmdet's ``ResNet`` takes it. A backbone
keeps the plugins of one stage with :func:`select_stage_plugins`; a block
builds and runs them with :class:`BlockPluginsMixin`.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmcv.cnn import build_plugin_layer

PLUGIN_EXAMPLE = ("dict(cfg=dict(type='EMA', factor=32), "
                  "stages=(True, True, True, True), position='after_conv3')")


def _check_plugin_dict(plugin: object, allowed_keys: Tuple[str, ...]) -> dict:
    if not isinstance(plugin, dict):
        raise TypeError(f'Each plugin must be a dict like {PLUGIN_EXAMPLE}, '
                        f'got {plugin!r} ({type(plugin).__name__}).')
    unknown = sorted(set(plugin) - set(allowed_keys))
    if unknown:
        raise KeyError(f'Plugin {plugin} has unknown keys {unknown}; allowed '
                       f'keys are {list(allowed_keys)}. A postfix goes inside '
                       "cfg: cfg=dict(type='EMA', postfix='_2').")
    return plugin


def _is_stage_mask(stages: object, num_stages: int) -> bool:
    return (isinstance(stages, (list, tuple)) and len(stages) == num_stages
            and all(isinstance(s, bool) for s in stages))


def select_stage_plugins(plugins: Optional[Sequence[dict]], stage_idx: int,
                         num_stages: int) -> List[dict]:
    """Keep the plugins that apply to one stage, as mmdet's ResNet does.

    A plugin without ``stages`` applies to every stage.

    Args:
        plugins (Sequence[dict], optional): Plugins of the whole backbone,
            each with ``cfg``, ``position`` and optional ``stages`` (one bool
            per stage).
        stage_idx (int): Index of the stage being built, from 0.
        num_stages (int): Number of stages of the backbone.

    Returns:
        list[dict]: Copies of the plugins for this stage, without ``stages``.
    """
    if plugins is None:
        return []
    if not isinstance(plugins, (list, tuple)):
        raise TypeError(f'plugins must be a list of dicts like '
                        f'[{PLUGIN_EXAMPLE}] or None, got {plugins!r}.')
    stage_plugins = []
    for plugin in plugins:
        plugin = dict(
            _check_plugin_dict(plugin, ('cfg', 'stages', 'position')))
        stages = plugin.pop('stages', None)
        if stages is not None and not _is_stage_mask(stages, num_stages):
            raise ValueError(
                f'Plugin {plugin}: stages must hold one bool per stage '
                f'({num_stages} for this backbone), e.g. '
                f'{tuple([True] * num_stages)}, got {stages!r}.')
        if stages is None or stages[stage_idx]:
            stage_plugins.append(plugin)
    return stage_plugins


class BlockPluginsMixin:
    """Builds plugins at named positions of a block and runs them.

    The host block calls :meth:`init_plugins` at the end of ``__init__`` with
    the channels at each of its positions, and :meth:`forward_plugins` at each
    position in ``forward``. Plugins are built by mmcv's
    ``build_plugin_layer``: the attribute name is the plugin's ``_abbr_`` plus
    ``cfg['postfix']``, so several plugins of one type need distinct postfixes.
    """

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
        for plugin in plugins or ():
            plugin = _check_plugin_dict(plugin, ('cfg', 'position'))
            position = self._check_position(plugin)
            cfg = plugin.get('cfg')
            if not isinstance(cfg, dict) or 'type' not in cfg:
                raise TypeError(
                    f'Plugin {plugin}: cfg must be a dict with a '
                    "'type', e.g. cfg=dict(type='EMA', factor=32).")
            self._build_plugin(dict(cfg), position, channels[position])

    def _check_position(self, plugin: dict) -> str:
        positions = list(self.plugin_names)
        position = plugin.get('position')
        if position not in positions:
            raise ValueError(
                f'{type(self).__name__} has plugin positions {positions}, got '
                f'position={position!r} in {plugin}. {positions[-1]!r} is '
                'after the last conv+norm, before the residual add (where a '
                "Bottleneck's 'after_conv3' is).")
        return position

    def _build_plugin(self, cfg: dict, position: str,
                      in_channels: int) -> None:
        postfix = cfg.pop('postfix', '')
        where = (f'{type(self).__name__}: plugin {cfg} at {position} '
                 f'(in_channels={in_channels})')
        try:
            name, layer = build_plugin_layer(
                cfg, postfix=postfix, in_channels=in_channels)
        except KeyError as err:
            raise KeyError(f'{where}: {err}. Is the type registered? Import '
                           'its package with custom_imports.') from err
        except (TypeError, ValueError) as err:
            raise type(err)(f'{where}: {err}') from err
        if hasattr(self, name):
            raise ValueError(
                f'{where}: the block already has an attribute {name!r}. Give '
                'each plugin of one type a distinct postfix in its cfg, e.g. '
                f"cfg=dict(type={cfg['type']!r}, postfix='_2').")
        self.add_module(name, layer)
        self.plugin_names[position].append(name)

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
