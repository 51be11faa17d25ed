# Copyright (c) mmema contributors. All rights reserved.
"""A config's model with the weights a run trained, for inference tools."""
import os.path as osp

import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import MODELS, DefaultScope
from mmengine.runner import load_checkpoint


def build_model_from_config(cfg: Config,
                            checkpoint: str,
                            device: str = 'cpu') -> nn.Module:
    """Build ``cfg.model`` in the config's scope and load its weights.

    Args:
        cfg (Config): A detection or classification config; its
            ``default_scope`` (``'mmdet'``, ``'mmpretrain'``) picks the
            registry.
        checkpoint (str): Checkpoint trained with this config.
        device (str): Device to run on. Defaults to ``'cpu'``.

    Returns:
        nn.Module: The model in eval mode.

    Raises:
        FileNotFoundError: If ``checkpoint`` does not exist.
        RuntimeError: If the checkpoint's weights do not fit the model.
    """
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(
            f'Checkpoint {checkpoint!r} does not exist: pass the .pth file '
            'that training wrote (e.g. work_dirs/<config>/epoch_12.pth).')
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        model = MODELS.build(cfg.model)
    try:
        load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
    except RuntimeError as error:
        raise RuntimeError(
            f'The weights in {checkpoint!r} do not fit the model of this '
            'config (see the keys below). Pass the config the checkpoint was '
            f'trained with.\n{error}') from error
    return model.to(device).eval()
