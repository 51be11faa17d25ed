# Copyright (c) mmema contributors. All rights reserved.
"""Run a detection or classification model on image files and draw where
each stage's EMA layers attend."""
import copy
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple, Union

import cv2
import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope

from mmema.engine import build_model_from_config
from .attention_overlay import attention_panel, crop_to_valid
from .attention_recorder import EMAAttentionRecorder


def build_image_pipeline(cfg: Config) -> Compose:
    """The config's test pipeline, reading an image file without labels.

    Annotation loading is dropped; a ``LoadImageFromFile`` is put first when
    the pipeline has none (e.g. CIFAR, whose data set holds arrays).

    Args:
        cfg (Config): A detection or classification config.

    Returns:
        Compose: Pipeline from ``dict(img_path=...)`` to packed inputs.

    Raises:
        ValueError: If the config has no test pipeline.
    """
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset['dataset']  # dataset wrappers
    if 'pipeline' not in dataset:
        raise ValueError(
            'The config has no test_dataloader.dataset.pipeline to prepare '
            'images with: use a config that tests on images.')
    pipeline = [
        t for t in copy.deepcopy(dataset['pipeline'])
        if not t['type'].endswith('LoadAnnotations')
    ]
    if not pipeline or not pipeline[0]['type'].endswith('LoadImageFromFile'):
        pipeline.insert(0, dict(type='LoadImageFromFile'))
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        return Compose(pipeline)


def compute_stage_attention(model: nn.Module, packed: dict
                            ) -> Tuple[np.ndarray, Dict[str, torch.Tensor]]:
    """Run ``model`` on one packed sample and record its EMA attention.

    Args:
        model (nn.Module): A detector or classifier with EMA layers and a
            ``data_preprocessor``.
        packed (dict): Output of :func:`build_image_pipeline`: ``inputs``
            (3, H, W) uint8 BGR and ``data_samples``.

    Returns:
        tuple[np.ndarray, dict[str, Tensor]]: The image the model saw,
        (H, W, 3) RGB uint8, and per stage a map (h, w) over that image
        (batch padding removed).
    """
    image = packed['inputs'].permute(1, 2, 0).numpy()[..., ::-1]  # RGB
    data = model.data_preprocessor(pseudo_collate([packed]), False)
    with EMAAttentionRecorder(model) as recorder, torch.no_grad():
        model(**data, mode='predict')
    padded_shape = tuple(data['inputs'].shape[-2:])
    return np.ascontiguousarray(image), {
        stage: crop_to_valid(attn[0].cpu(), image.shape[:2], padded_shape)
        for stage, attn in recorder.stage_maps().items()
    }


def save_attention_panels(model: nn.Module,
                          pipeline: Compose,
                          image_paths: Sequence[str],
                          out_dir: str,
                          alpha: float = 0.5) -> List[str]:
    """Write one panel per image: the input and one overlay per stage.

    Args:
        model (nn.Module): A detector or classifier with EMA layers.
        pipeline (Compose): From :func:`build_image_pipeline`.
        image_paths (Sequence[str]): Image files.
        out_dir (str): Folder for ``{image name}_ema_attention.png``.
        alpha (float): Weight of the heat maps. Defaults to 0.5.

    Returns:
        list[str]: Paths of the written PNGs.
    """
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for path in image_paths:
        if not osp.isfile(path):
            raise FileNotFoundError(f'Image {path!r} does not exist.')
        image, stage_maps = compute_stage_attention(
            model, pipeline(dict(img_path=path, img_id=0)))
        panel = attention_panel(image, stage_maps, alpha)
        stem = osp.splitext(osp.basename(path))[0]
        out_path = osp.join(out_dir, f'{stem}_ema_attention.png')
        if not cv2.imwrite(out_path, panel[..., ::-1]):
            raise OSError(f'Could not write {out_path}: check that '
                          f'{out_dir} is writable.')
        written.append(out_path)
    return written


def visualize_attention(config: Union[str, Config],
                        checkpoint: str,
                        image_paths: Sequence[str],
                        out_dir: str,
                        device: str = 'cpu',
                        alpha: float = 0.5) -> List[str]:
    """Build a model from a config file and write its attention panels.

    Args:
        config (str or Config): Config file or object.
        checkpoint (str): Checkpoint trained with the config.
        image_paths (Sequence[str]): Image files.
        out_dir (str): Output folder.
        device (str): Device to run on. Defaults to ``'cpu'``.
        alpha (float): Weight of the heat maps. Defaults to 0.5.

    Returns:
        list[str]: Paths of the written PNGs.
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else config
    model = build_model_from_config(cfg, checkpoint, device)
    return save_attention_panels(model, build_image_pipeline(cfg), image_paths,
                                 out_dir, alpha)
