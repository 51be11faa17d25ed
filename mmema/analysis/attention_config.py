# Copyright (c) mmema contributors. All rights reserved.
"""The attentions of a model config: which they are, and the config
without EMA (the baseline the paper compares with)."""
import copy
from typing import Any, Iterator, Optional, Tuple

from mmengine.registry import MODELS, DefaultScope

#: Registry names of the EMA module.
EMA_TYPES = ('EMA', 'EfficientMultiScaleAttention')


def _is_ema(cfg: Any) -> bool:
    return isinstance(cfg, dict) and cfg.get('type') in EMA_TYPES


def _strip(node: Any) -> Tuple[Any, int]:
    """Remove EMA from a config node; return the new node and the count."""
    if isinstance(node, (list, tuple)):
        stripped = [_strip(item) for item in node]
        return type(node)(item
                          for item, _ in stripped), sum(n for _, n in stripped)
    if not isinstance(node, dict):
        return node, 0
    out = type(node)()
    removed = 0
    for key, value in node.items():
        if key == 'plugins' and isinstance(value, (list, tuple)):
            kept = [p for p in value if not _is_ema(p.get('cfg'))]
            removed += len(value) - len(kept)
            value = kept or None
        elif key.endswith('plugin_cfg') and _is_ema(value):
            value, removed = None, removed + 1
        elif _is_ema(value):
            raise ValueError(
                f'EMA is built directly as {key!r} ({value!r}); only EMA in '
                "a `plugins` list or a `*plugin_cfg` can be removed. Give "
                'the baseline its own config.')
        value, n = _strip(value)
        removed += n
        out[key] = value
    return out, removed


def strip_ema(model_cfg: dict) -> Tuple[dict, int]:
    """A copy of a model config without its EMA layers.

    EMA entries are removed from every ``plugins`` list (mmdet's and
    mmema's ResNet form; an emptied list becomes None) and every
    ``*plugin_cfg`` that builds EMA is set to None (mmema's MobileNetV2).
    The rest of the model is untouched, so the result is the baseline the
    paper compares with.

    Args:
        model_cfg (dict): The ``model`` field of a config.

    Returns:
        tuple[dict, int]: The new model config and the number of EMA entries
        removed (0 if the model had none).

    Raises:
        ValueError: If EMA is configured in a form that cannot be removed.
    """
    return _strip(copy.deepcopy(model_cfg))


def _plugin_types(node: Any) -> Iterator[str]:
    """The ``type`` of every plugin spec in a config node, in order."""
    if isinstance(node, (list, tuple)):
        for item in node:
            yield from _plugin_types(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == 'plugins' and isinstance(value, (list, tuple)):
                yield from (p['cfg']['type'] for p in value)
            elif key.endswith('plugin_cfg') and isinstance(value, dict):
                yield value['type']
            else:
                yield from _plugin_types(value)


def attention_of(model_cfg: dict, scope: Optional[str]) -> str:
    """The attention a model config builds, as the paper's tables name it.

    Args:
        model_cfg (dict): The ``model`` field of a config.
        scope (str, optional): Registry scope, the config's
            ``default_scope``; it resolves aliases (``'ConvBlockAttention'``
            is ``'CBAM'``).

    Returns:
        str: The class names of the plugins in every ``plugins`` list and
        ``*plugin_cfg`` of the config, joined by ``'+'`` in order of first
        appearance (``'EMA'``, ``'CA'``), or ``'baseline'`` if none.
    """
    names = []
    with DefaultScope.overwrite_default_scope(scope):
        for type_name in _plugin_types(model_cfg):
            name = MODELS.get(type_name).__name__
            if name not in names:
                names.append(name)
    return '+'.join(names) or 'baseline'
