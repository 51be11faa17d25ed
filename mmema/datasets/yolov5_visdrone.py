# Copyright (c) mmema contributors. All rights reserved.
"""VisDrone2019-DET for mmyolo's YOLO recipes."""
from mmyolo.datasets.yolov5_coco import BatchShapePolicyDataset
from mmyolo.registry import DATASETS

from .visdrone import VisDroneDataset


@DATASETS.register_module()
class YOLOv5VisDroneDataset(BatchShapePolicyDataset, VisDroneDataset):
    """:class:`VisDroneDataset` with mmyolo's batch-shape policy.

    What ``YOLOv5CocoDataset`` is to ``CocoDataset``: validation batches of
    images of similar aspect ratio are padded to one shape
    (``batch_shapes_cfg``). Ignored regions and ``others`` stay crowd
    boxes: YOLO losses train on ``gt_instances`` only, so detections there
    are not rewarded, and COCO evaluation ignores them.
    """
