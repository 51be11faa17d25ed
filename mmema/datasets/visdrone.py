# Copyright (c) mmema contributors. All rights reserved.
"""VisDrone2019-DET as a COCO-style detection dataset."""
from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

# Object categories 1-10 of the official annotation format, in id order.
# 0 (ignored region) and 11 (others) are no training classes.
VISDRONE_CLASSES = ('pedestrian', 'people', 'bicycle', 'car', 'van', 'truck',
                    'tricycle', 'awning-tricycle', 'bus', 'motor')


@DATASETS.register_module()
class VisDroneDataset(CocoDataset):
    """VisDrone2019-DET (Zhu et al., TPAMI 2021) in COCO format.

    Reads the json that ``tools/dataset_converters/visdrone2coco.py`` writes
    from the official txt annotations: categories 1-10 keep their official
    ids and names; ignored regions (0) and ``others`` (11) are crowd boxes
    (``iscrowd=1``), which mmdet loads as ignored instances and
    pycocotools' evaluation counts neither as misses nor, for a detection
    on them, as false positives.
    """

    METAINFO = dict(
        classes=VISDRONE_CLASSES,
        palette=[(220, 20, 60), (255, 127, 14), (44, 160, 44), (31, 119, 180),
                 (148, 103, 189), (140, 86, 75), (227, 119, 194),
                 (127, 127, 127), (188, 189, 34), (23, 190, 207)])
