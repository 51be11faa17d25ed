# Copyright (c) mmema contributors. All rights reserved.
"""The input size a config's model sees, read from its pipelines."""
from typing import List, Sequence, Tuple, Union

from mmengine.config import Config


def _pipeline(cfg: Config, loader: str) -> List[dict]:
    """Transforms of ``cfg[loader]``'s data set (empty where it has none)."""
    dataset = (cfg.get(loader) or {}).get('dataset', {})
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset['dataset']  # dataset wrappers
    return list(dataset.get('pipeline', []))


def _as_hw(size: Union[int, Sequence[int]]) -> Tuple[int, int]:
    """``int`` or mmcv's ``(w, h)`` to ``(h, w)``."""
    if isinstance(size, int):
        return size, size
    w, h = size
    return int(h), int(w)


def default_input_shape(cfg: Config) -> Tuple[int, int]:
    """The (H, W) a config's model sees, from its pipelines.

    The test pipeline is read first, then the train pipeline; in each, the
    last ``crop_size`` (e.g. ``CenterCrop``, CIFAR's ``RandomCrop``) wins
    over the last ``scale`` (e.g. ``Resize``, ``(w, h)``). The shape is
    rounded up to the data preprocessor's ``pad_size_divisor``: COCO's
    ``Resize(scale=(1333, 800))`` gives (800, 1344), ImageNet's
    ``CenterCrop(crop_size=224)`` (224, 224).

    Args:
        cfg (Config): A detection or classification config.

    Returns:
        tuple[int, int]: Input height and width.

    Raises:
        ValueError: If no transform gives a size; pass a shape instead.
    """
    for loader in ('test_dataloader', 'train_dataloader'):
        for key in ('crop_size', 'scale'):
            sizes = [
                t[key] for t in _pipeline(cfg, loader)
                if isinstance(t.get(key), (int, tuple, list))
            ]
            if sizes:
                h, w = _as_hw(sizes[-1])
                divisor = cfg.model.get('data_preprocessor',
                                        {}).get('pad_size_divisor', 1)
                return (-(-h // divisor) * divisor, -(-w // divisor) * divisor)
    raise ValueError(
        'Cannot tell the input size from the config\'s pipelines (no '
        "transform with a 'crop_size' or 'scale'): pass the shape, "
        'e.g. --shape 224 224.')
