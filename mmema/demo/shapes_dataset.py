# Copyright (c) mmema contributors. All rights reserved.
"""A deterministic detection set of drawn shapes, written in COCO format.

Each image is a noisy two-colour gradient with a few non-overlapping filled
shapes of random colour, size and position; the class is the shape
(``circle``, ``square``, ``triangle``), never the colour. Boxes are the tight
boxes of the drawn pixels. The same arguments always give byte-identical
files, so the demo needs no download and no data ships with the repository.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Tuple

import cv2
import numpy as np

SHAPES_CLASSES = ('circle', 'square', 'triangle')

#: Tries to place a shape before giving up on it (keeps images sparse when
#: large shapes do not fit).
_PLACEMENT_TRIES = 20


def _check_args(num_images: int, image_size: int, min_size: int, max_size: int,
                max_objects: int) -> None:
    if num_images < 1:
        raise ValueError(f'num_images must be >= 1, got {num_images}.')
    if max_objects < 1:
        raise ValueError(f'max_objects must be >= 1, got {max_objects}.')
    if not 4 <= min_size <= max_size <= image_size:
        raise ValueError(
            'Shape sizes must satisfy 4 <= min_size <= max_size <= '
            f'image_size, got min_size={min_size}, max_size={max_size}, '
            f'image_size={image_size}.')


def _background(rng: np.random.Generator, image_size: int) -> np.ndarray:
    """A noisy gradient between two random colours, (H, W, 3) uint8."""
    start, end = rng.uniform(0, 255, size=(2, 3))
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:image_size, 0:image_size] / (image_size - 1)
    t = (xs * np.cos(angle) + ys * np.sin(angle))
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)  # (H, W) in [0, 1]
    image = start + t[..., None] * (end - start)  # (H, W, 3)
    image += rng.normal(0, 8, size=image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def _shape_mask(rng: np.random.Generator, label: int, size: int, x0: int,
                y0: int, image_size: int) -> np.ndarray:
    """Mask (H, W) uint8 of one shape of ``size`` px with top-left (x0, y0)."""
    mask = np.zeros((image_size, image_size), np.uint8)
    name = SHAPES_CLASSES[label]
    if name == 'circle':
        radius = size // 2
        cv2.circle(mask, (x0 + radius, y0 + radius), radius, 1, -1)
    elif name == 'square':
        cv2.rectangle(mask, (x0, y0), (x0 + size - 1, y0 + size - 1), 1, -1)
    else:
        apex_x = x0 + int(rng.integers(0, size))
        corners = np.array([[apex_x, y0], [x0, y0 + size - 1],
                            [x0 + size - 1, y0 + size - 1]], np.int32)
        cv2.fillPoly(mask, [corners], 1)
    return mask


def _contrasting_colour(rng: np.random.Generator,
                        local_mean: np.ndarray) -> np.ndarray:
    """A random colour at least 80 (L1 over RGB) away from ``local_mean``."""
    while True:
        colour = rng.integers(0, 256, size=3)
        if np.abs(colour - local_mean).sum() >= 80:
            return colour.astype(np.uint8)


def draw_shapes_image(rng: np.random.Generator, image_size: int,
                      max_objects: int, min_size: int,
                      max_size: int) -> Tuple[np.ndarray, List[dict]]:
    """Draw one image and its objects.

    Args:
        rng (np.random.Generator): Source of all randomness.
        image_size (int): Side of the square image in pixels.
        max_objects (int): At most this many shapes (at least one).
        min_size (int): Smallest shape side in pixels.
        max_size (int): Largest shape side in pixels.

    Returns:
        tuple[np.ndarray, list[dict]]: The image (H, W, 3) uint8 in BGR, and
        per object ``label`` (index into :data:`SHAPES_CLASSES`), ``bbox``
        (COCO ``[x, y, w, h]`` of the drawn pixels) and ``area`` (pixels).
    """
    image = _background(rng, image_size)
    occupied = np.zeros((image_size, image_size), bool)
    objects = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        label = int(rng.integers(len(SHAPES_CLASSES)))
        for _ in range(_PLACEMENT_TRIES):
            size = int(rng.integers(min_size, max_size + 1))
            x0, y0 = rng.integers(0, image_size - size + 1, size=2)
            mask = _shape_mask(rng, label, size, int(x0), int(y0), image_size)
            pixels = mask.astype(bool)
            # A one-pixel margin keeps shapes apart, so boxes stay tight.
            if not (cv2.dilate(mask, np.ones((3, 3), np.uint8)).astype(bool)
                    & occupied).any():
                break
        else:
            continue
        image[pixels] = _contrasting_colour(rng, image[pixels].mean(0))
        occupied |= pixels
        ys, xs = np.nonzero(pixels)
        x1, y1 = int(xs.min()), int(ys.min())
        objects.append(
            dict(
                label=label,
                bbox=[x1, y1,
                      int(xs.max()) - x1 + 1,
                      int(ys.max()) - y1 + 1],
                area=int(pixels.sum())))
    return image, objects


def generate_shapes_split(data_root: str,
                          split: str,
                          num_images: int,
                          seed: int,
                          image_size: int = 128,
                          max_objects: int = 3,
                          min_size: int = 24,
                          max_size: int = 56) -> str:
    """Write ``num_images`` images and their COCO annotation file.

    Files: ``{data_root}/{split}/{index:06d}.png`` and
    ``{data_root}/annotations/instances_{split}.json``. Existing files of the
    same names are overwritten with identical content for identical
    arguments; nothing else in ``data_root`` is touched.

    Args:
        data_root (str): Folder of the data set.
        split (str): Split name, e.g. ``'train'``.
        num_images (int): Number of images.
        seed (int): Seed of the split; different splits need different seeds.
        image_size (int): Side of the square images. Defaults to 128.
        max_objects (int): At most this many shapes per image. Defaults to 3.
        min_size (int): Smallest shape side in pixels. Defaults to 24.
        max_size (int): Largest shape side in pixels. Defaults to 56.

    Returns:
        str: Path of the annotation file.
    """
    _check_args(num_images, image_size, min_size, max_size, max_objects)
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(data_root, split), exist_ok=True)
    os.makedirs(osp.join(data_root, 'annotations'), exist_ok=True)
    images: List[Dict] = []
    annotations: List[Dict] = []
    for index in range(num_images):
        image, objects = draw_shapes_image(rng, image_size, max_objects,
                                           min_size, max_size)
        file_name = f'{index:06d}.png'
        if not cv2.imwrite(osp.join(data_root, split, file_name), image):
            raise OSError(f'Could not write {file_name} under '
                          f'{osp.join(data_root, split)}: check the folder '
                          'is writable.')
        images.append(
            dict(
                id=index + 1,
                file_name=file_name,
                width=image_size,
                height=image_size))
        for obj in objects:
            annotations.append(
                dict(
                    id=len(annotations) + 1,
                    image_id=index + 1,
                    category_id=obj['label'] + 1,
                    bbox=obj['bbox'],
                    area=obj['area'],
                    iscrowd=0))
    categories = [
        dict(id=i + 1, name=name, supercategory='shape')
        for i, name in enumerate(SHAPES_CLASSES)
    ]
    ann_file = osp.join(data_root, 'annotations', f'instances_{split}.json')
    with open(ann_file, 'w', encoding='utf-8') as f:
        json.dump(
            dict(
                images=images, annotations=annotations, categories=categories),
            f)
    return ann_file
