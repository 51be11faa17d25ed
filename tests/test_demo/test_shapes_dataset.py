# Copyright (c) mmema contributors. All rights reserved.
"""The demo data: deterministic, valid COCO, boxes that fit the pixels."""
import filecmp
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from pycocotools.coco import COCO

from mmema.demo import SHAPES_CLASSES, generate_shapes_split


def _all_files(root: str) -> list:
    return sorted(
        osp.relpath(osp.join(d, f), root) for d, _, files in os.walk(root)
        for f in files)


def test_same_seed_gives_identical_files(tmp_path):
    first = generate_shapes_split(str(tmp_path / 'a'), 'val', 12, seed=3)
    generate_shapes_split(str(tmp_path / 'b'), 'val', 12, seed=3)
    files = _all_files(str(tmp_path / 'a'))
    assert len(files) == 13  # 12 images + the annotation file
    assert files == _all_files(str(tmp_path / 'b'))
    match, mismatch, errors = filecmp.cmpfiles(
        tmp_path / 'a', tmp_path / 'b', files, shallow=False)
    assert (mismatch, errors) == ([], [])
    # Another seed draws other images.
    generate_shapes_split(str(tmp_path / 'c'), 'val', 12, seed=4)
    assert not filecmp.cmp(
        first,
        str(tmp_path / 'c' / 'annotations' / 'instances_val.json'),
        shallow=False)


def _component_box(image: np.ndarray, cx: int, cy: int) -> tuple:
    """Tight box and size of the same-colour region through (cx, cy)."""
    same = np.all(image == image[cy, cx], axis=2).astype(np.uint8)
    _, labels = cv2.connectedComponents(same, connectivity=4)
    ys, xs = np.nonzero(labels == labels[cy, cx])
    box = [
        xs.min(),
        ys.min(),
        xs.max() - xs.min() + 1,
        ys.max() - ys.min() + 1
    ]
    return [int(v) for v in box], len(xs)


def test_annotations_are_valid_coco_and_fit_the_drawn_shapes(tmp_path):
    ann_file = generate_shapes_split(
        str(tmp_path),
        'train',
        20,
        seed=0,
        image_size=96,
        min_size=20,
        max_size=40)
    coco = COCO(ann_file)
    assert [c['name']
            for c in coco.loadCats(coco.getCatIds())] == list(SHAPES_CLASSES)
    assert len(coco.getImgIds()) == 20
    labels = set()
    for img_id in coco.getImgIds():
        info = coco.loadImgs(img_id)[0]
        image = cv2.imread(str(tmp_path / 'train' / info['file_name']))
        assert image.shape == (info['height'], info['width'], 3) == (96, 96, 3)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
        assert 1 <= len(anns) <= 3
        for ann in anns:
            x, y, w, h = ann['bbox']
            assert 20 <= max(w, h) <= 40 and x + w <= 96 and y + h <= 96
            # Every shape is a solid colour and contains its box's centre:
            # the region of that colour must be exactly the annotation.
            box, area = _component_box(image, x + w // 2, y + h // 2)
            assert box == ann['bbox']
            assert area == ann['area']
            labels.add(ann['category_id'])
    assert labels == {1, 2, 3}


@pytest.mark.parametrize('kwargs, message', [
    (dict(num_images=0), 'num_images'),
    (dict(max_objects=0), 'max_objects'),
    (dict(min_size=50, max_size=40), 'min_size'),
    (dict(max_size=200), 'image_size'),
])
def test_bad_arguments_name_the_problem(tmp_path, kwargs, message):
    args = dict(num_images=2, seed=0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        generate_shapes_split(str(tmp_path), 'train', **args)
