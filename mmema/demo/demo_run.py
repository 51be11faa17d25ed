# Copyright (c) mmema contributors. All rights reserved.
"""Train, test and draw the demo detector in one output folder."""
import copy
import glob
import json
import os
import os.path as osp
import time
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Dict, List, Optional

from mmengine.config import Config
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

from mmema.analysis.attention_config import strip_ema
from mmema.models.plugins import EMA
from mmema.visualization import build_image_pipeline, save_attention_panels
from .shapes_dataset import generate_shapes_split

#: Names of the two demo runs, and their folders under the output folder.
VARIANTS = ('ema', 'baseline')

#: Validation images whose EMA attention the demo draws.
NUM_ATTENTION_IMAGES = 4


@dataclass
class DemoResult:
    """What one demo run measured and wrote.

    Args:
        variant (str): ``'ema'`` or ``'baseline'``.
        bbox_map50 (float): COCO bbox mAP at IoU 0.5 on the validation set.
        bbox_map (float): COCO bbox mAP at IoU 0.5:0.95.
        params (int): Parameters of the detector.
        train_seconds (float): Wall time of training.
        checkpoint (str): The trained checkpoint.
        log_dir (str): Folder of the log, detections and attention maps.
        attention_pngs (list[str]): Attention panels (none for the
            baseline).
    """

    variant: str
    bbox_map50: float
    bbox_map: float
    params: int
    train_seconds: float
    checkpoint: str
    log_dir: str
    attention_pngs: List[str]


def _set_data_root(cfg: Config, data_root: str) -> None:
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(loader) is not None:
            cfg[loader].dataset.data_root = data_root
    for evaluator in ('val_evaluator', 'test_evaluator'):
        if cfg.get(evaluator) is not None:
            cfg[evaluator].ann_file = osp.join(data_root, 'annotations',
                                               'instances_val.json')


def prepare_demo_config(cfg: Config, out_dir: str, baseline: bool) -> Config:
    """Point the demo config at ``out_dir`` and pick the variant.

    Data go to ``{out_dir}/data``; the run to ``{out_dir}/ema`` or
    ``{out_dir}/baseline``. Evaluation runs once, after training, as the
    test (with detections drawn into the run's log folder).

    Args:
        cfg (Config): The demo config (``configs/demo/...``), with a
            ``demo_data`` field.
        out_dir (str): The demo's output folder.
        baseline (bool): Remove EMA from the model.

    Returns:
        Config: The config to train (``cfg`` is not changed).

    Raises:
        ValueError: If ``baseline`` is set and the model has no EMA.
    """
    cfg = copy.deepcopy(cfg)
    if 'demo_data' not in cfg:
        raise ValueError(
            'The demo config needs a `demo_data` dict (arguments of '
            'mmema.demo.generate_shapes_split), as in '
            'configs/demo/ema_faster-rcnn_r50_demo.py.')
    _set_data_root(cfg, osp.join(out_dir, 'data') + osp.sep)
    if baseline:
        cfg.model, removed = strip_ema(cfg.model)
        if not removed:
            raise ValueError('--baseline removes EMA, but the demo config '
                             'builds none: pass an EMA config.')
    cfg.work_dir = osp.join(out_dir, VARIANTS[int(baseline)])
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.default_hooks.visualization.update(
        draw=True, test_out_dir='detections')
    # Previous runs are kept: weights only halve what each one takes.
    cfg.default_hooks.checkpoint.save_optimizer = False
    return cfg


def generate_demo_data(cfg: Config) -> None:
    """Draw the train and val splits that ``cfg`` reads (deterministic).

    Args:
        cfg (Config): From :func:`prepare_demo_config`.
    """
    data = dict(cfg.demo_data)
    num_train, num_val = data.pop('num_train'), data.pop('num_val')
    seed = data.pop('seed')
    data_root = cfg.train_dataloader.dataset.data_root
    generate_shapes_split(data_root, 'train', num_train, seed, **data)
    generate_shapes_split(data_root, 'val', num_val, seed + 1, **data)


def keep_previous_run(run_dir: str) -> Optional[str]:
    """Rename a previous run's folder so that nothing of it is overwritten.

    Args:
        run_dir (str): Folder the next run writes to.

    Returns:
        str, optional: Where the previous run now is; None if there was
        none.
    """
    if not osp.isdir(run_dir) or not os.listdir(run_dir):
        return None
    stamp = datetime.fromtimestamp(osp.getmtime(run_dir))
    kept = f'{run_dir}-{stamp:%Y%m%d_%H%M%S}'
    os.rename(run_dir, kept)
    return kept


def run_demo(cfg: Config) -> DemoResult:
    """Train, test with CocoMetric, and draw EMA attention on val images.

    Args:
        cfg (Config): From :func:`prepare_demo_config`.

    Returns:
        DemoResult: Metrics and output paths; also written to
        ``{work_dir}/metrics.json``.
    """
    runner = Runner.from_cfg(cfg)
    start = time.perf_counter()
    runner.train()
    train_seconds = time.perf_counter() - start
    metrics = runner.test()
    model = runner.model.module if is_model_wrapper(
        runner.model) else runner.model
    val_images = sorted(
        glob.glob(
            osp.join(cfg.test_dataloader.dataset.data_root,
                     cfg.test_dataloader.dataset.data_prefix.img, '*.png')))
    attention_pngs = []
    if any(isinstance(m, EMA) for m in model.modules()):
        attention_pngs = save_attention_panels(
            model, build_image_pipeline(cfg),
            val_images[:NUM_ATTENTION_IMAGES],
            osp.join(runner.log_dir, 'attention'))
    with open(
            osp.join(cfg.work_dir, 'last_checkpoint'), encoding='utf-8') as f:
        checkpoint = f.read().strip()
    result = DemoResult(
        variant=osp.basename(cfg.work_dir),
        # CocoMetric returns nothing when no box passed the score threshold.
        bbox_map50=float(metrics.get('coco/bbox_mAP_50', 0.0)),
        bbox_map=float(metrics.get('coco/bbox_mAP', 0.0)),
        params=sum(p.numel() for p in model.parameters()),
        train_seconds=train_seconds,
        checkpoint=checkpoint,
        log_dir=runner.log_dir,
        attention_pngs=attention_pngs)
    with open(
            osp.join(cfg.work_dir, 'metrics.json'), 'w',
            encoding='utf-8') as f:
        json.dump(asdict(result), f, indent=2)
    return result


def load_results(out_dir: str) -> Dict[str, DemoResult]:
    """Results of the demo runs found in ``out_dir``, by variant."""
    results = {}
    for variant in VARIANTS:
        path = osp.join(out_dir, variant, 'metrics.json')
        if osp.isfile(path):
            with open(path, encoding='utf-8') as f:
                results[variant] = DemoResult(**json.load(f))
    return results
