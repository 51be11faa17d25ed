# Copyright (c) mmema contributors. All rights reserved.
"""mmdet's ``plugins`` form inside residual blocks: build and run.

A backbone keeps the specs of one stage with
:func:`mmema.models.plugin_spec.select_stage_plugins`; a block builds and
runs them at its named positions with :class:`BlockPluginsMixin`.
"""
from typing import Dict, List, Optional, Sequence

import torch

from ..plugin_spec import add_plugin, build_plugin, check_plugin


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
        host = type(self).__name__
        for plugin in plugins or ():
            position = check_plugin(
                plugin,
                host,
                positions=list(channels),
                position_hint=f' {list(channels)[-1]!r} is after the last '
                'conv+norm, before the residual add (where a '
                "Bottleneck's 'after_conv3' is).")['position']
            name, layer = build_plugin(plugin['cfg'], channels[position],
                                       host, position)
            add_plugin(self, name, layer, host)
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
