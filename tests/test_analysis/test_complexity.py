# Copyright (c) mmema contributors. All rights reserved.
"""Params and FLOPs of builds with and without EMA."""
import os.path as osp

import torch
from mmengine.config import Config

from mmema.analysis.complexity import (compare_with_and_without_ema,
                                       measure_complexity)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def config(path: str) -> Config:
    return Config.fromfile(osp.join(ROOT, path))


def test_detector_with_and_without_ema():
    cfg = config('configs/ema_faster-rcnn_r50.py')
    with_ema, without = compare_with_and_without_ema(cfg, (64, 64))
    # EMA in the 4 + 6 + 3 bottlenecks of stages 2-4 (512, 1024, 2048
    # channels, factor 32): 10c^2 + 4c parameters each.
    expected = sum(n * (10 * c * c + 4 * c)
                   for n, c in ((4, 16), (6, 32), (3, 64)))
    assert with_ema.params - without.params == with_ema.ema_params == expected
    assert without.ema_params == without.ema_flops == 0
    assert with_ema.ema_flops > 0
    # Same proposal count in both builds: EMA is the whole difference.
    assert with_ema.flops - without.flops == with_ema.ema_flops


def test_two_stage_flops_do_not_depend_on_the_random_weights():
    """The RoI head is counted at the full proposal budget, so two random
    initialisations of one detector give the same FLOPs."""
    cfg = config('configs/ablations/faster-rcnn_r50-baseline_fpn_1x_coco.py')
    cfg.model.test_cfg.rpn.max_per_img = 300
    counts = set()
    for seed in (0, 1):
        torch.manual_seed(seed)
        counts.add(
            measure_complexity('baseline', cfg.model, 'mmdet', (64, 64)).flops)
    assert len(counts) == 1


def test_bn_folded_params_are_yolov5s_fused_counts():
    """YOLOv5's own ``fuse()`` of yolov5s_EMA.yaml, run with the official
    repository's code, leaves 7,229,181 of its 7,238,685 parameters: each
    Conv's BN (weight and bias) becomes the conv's bias."""
    cfg = config(
        'configs/detection/yolov5_s-v61-ema_syncbn_fast_8xb16-300e_coco.py')
    with_ema, without = compare_with_and_without_ema(cfg, (64, 64))
    assert (with_ema.params, with_ema.params_bn_folded) == (7_238_685,
                                                            7_229_181)
    assert (without.params, without.params_bn_folded) == (7_235_389,
                                                          7_225_885)
    assert (with_ema.attention, without.attention) == ('EMA', 'baseline')
