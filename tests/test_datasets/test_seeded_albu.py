# Copyright (c) mmema contributors. All rights reserved.
"""SeededAlbu: mmdet's Albu whose albumentations follow the run's seed."""
import numpy as np
import pytest
from mmdet.registry import TRANSFORMS

import mmema.datasets.transforms.seeded_albu as seeded_albu

# Random at every call (p=1), so two streams that differ show it.
TRANSFORMS_CFG = [
    dict(type='RandomBrightnessContrast', p=1.0),
    dict(type='HueSaturationValue', p=1.0),
]


def build(type_: str) -> object:
    return TRANSFORMS.build(
        dict(type=type_, transforms=TRANSFORMS_CFG, keymap={'img': 'image'}))


def images(transform: object, seed: int, calls: int = 4) -> list:
    """What ``transform`` makes of one image, ``calls`` times, after numpy
    is seeded as mmengine seeds it."""
    image = np.random.default_rng(0).integers(0, 256, (16, 16, 3), np.uint8)
    np.random.seed(seed)
    return [transform({'img': image.copy()})['img'] for _ in range(calls)]


def test_same_seed_same_augmentations_where_mmdet_albu_differs():
    first, second = images(build('SeededAlbu'),
                           3), images(build('SeededAlbu'), 3)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not np.array_equal(first[0], first[1])  # random per call
    # mmdet's Albu: albumentations 2 ignores numpy's seed.
    plain = images(build('Albu'), 3), images(build('Albu'), 3)
    assert not all(np.array_equal(a, b) for a, b in zip(*plain))


def test_another_seed_other_augmentations():
    assert not np.array_equal(
        images(build('SeededAlbu'), 3)[0],
        images(build('SeededAlbu'), 4)[0])


def test_each_process_seeds_from_its_own_numpy_state(monkeypatch):
    """A data loader worker (another pid) reseeds from its own numpy
    generator, which mmengine seeds per worker."""
    transform = build('SeededAlbu')
    images(transform, 3, calls=1)
    monkeypatch.setattr(seeded_albu.os, 'getpid', lambda: -1)
    worker = images(transform, 5, calls=2)
    fresh = images(build('SeededAlbu'), 5, calls=2)
    assert all(np.array_equal(a, b) for a, b in zip(worker, fresh))


@pytest.mark.parametrize('config', [
    'configs/detection/yolov5_s-v61-ema_syncbn_fast_8xb16-300e_coco.py',
    'configs/detection/yolov8_s-ema_syncbn_fast_8xb16-500e_coco.py',
    'configs/detection/yolov5_x-p2-ema_syncbn_fast_8xb16-300e_visdrone.py',
])
def test_yolo_configs_train_through_it(config):
    from pathlib import Path

    from mmengine.config import Config
    cfg = Config.fromfile(Path(__file__).parents[2] / config)
    pipelines = [cfg.train_dataloader.dataset.pipeline] + [
        h.switch_pipeline
        for h in cfg.get('custom_hooks', []) if 'switch_pipeline' in h
    ]
    for pipeline in pipelines:
        types = [t['type'] for t in pipeline]
        assert 'mmdet.SeededAlbu' in types and 'mmdet.Albu' not in types


def test_transforms_draw_in_turn_from_one_generator():
    """Two transforms of one probability do not fire together, as they
    would with one seed each (``Compose(seed=...)``)."""
    transform = TRANSFORMS.build(
        dict(
            type='SeededAlbu',
            transforms=[
                dict(type='InvertImg', p=0.5),
                dict(type='ToGray', p=0.5)
            ],
            keymap={'img': 'image'}))
    dark = np.random.default_rng(0).integers(0, 60, (8, 8, 3), np.uint8)
    np.random.seed(0)
    fired = []
    for _ in range(40):
        out = transform({'img': dark.copy()})['img'].astype(int)
        fired.append((out.mean() > 128, bool((out[..., 0] == out[...,
                                                                 1]).all())))
    assert any(inverted != gray for inverted, gray in fired)
    assert any(inverted for inverted, _ in fired)
    assert any(gray for _, gray in fired)
