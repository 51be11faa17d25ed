# Copyright (c) mmema contributors. All rights reserved.
"""VisDroneDataset on a converted split: classes, ignored boxes, COCO eval."""
import json
from pathlib import Path
from typing import List

import pytest
import torch
from mmdet.evaluation import CocoMetric
from mmdet.registry import DATASETS, TASK_UTILS
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmengine.structures import InstanceData

from mmema.datasets import VISDRONE_CLASSES, VisDroneDataset, convert_visdrone

# A pedestrian and a car; an ignored region (0) and an `others` box (11).
ANNOTATIONS = {
    '0000001': ('10,12,8,20,1,1,0,0\n'
                '40,20,30,15,1,4,1,2\n'
                '60,0,20,10,0,0,0,0\n'
                '0,40,12,12,1,11,0,0\n'),
}
PEDESTRIAN, CAR = [10, 12, 18, 32], [40, 20, 70, 35]
IGNORED_REGION = [60, 0, 80, 10]
VISDRONE_CONFIG = (Path(__file__).resolve().parents[2] / 'configs' /
                   'detection' / 'faster-rcnn_r50-ema_fpn_1x_visdrone.py')


@pytest.fixture
def dataset(write_visdrone_split, tmp_path) -> VisDroneDataset:
    split = write_visdrone_split(ANNOTATIONS)
    coco, _ = convert_visdrone(str(split))
    ann_file = tmp_path / 'train.json'
    ann_file.write_text(json.dumps(coco))
    with DefaultScope.overwrite_default_scope('mmdet'):
        return DATASETS.build(
            dict(
                type='VisDroneDataset',
                data_root=str(split),
                ann_file=str(ann_file),
                data_prefix=dict(img='images/'),
                pipeline=[
                    dict(type='LoadImageFromFile'),
                    dict(type='LoadAnnotations', with_bbox=True),
                    dict(type='PackDetInputs')
                ]))


def test_classes_and_labels(dataset):
    assert isinstance(dataset, VisDroneDataset)
    assert dataset.metainfo['classes'] == VISDRONE_CLASSES
    assert len(dataset.metainfo['palette']) == 10
    info = dataset.get_data_info(0)
    objects = [i for i in info['instances'] if not i['ignore_flag']]
    # Official ids 1 (pedestrian) and 4 (car) are labels 0 and 3.
    assert [(i['bbox'], i['bbox_label']) for i in objects] == [
        (PEDESTRIAN, 0), (CAR, 3)
    ]


def test_ignored_regions_are_not_training_targets(dataset):
    sample = dataset[0]['data_samples']
    assert sample.gt_instances.bboxes.tensor.tolist() == [PEDESTRIAN, CAR]
    ignored = sample.ignored_instances.bboxes.tensor.tolist()
    assert len(ignored) == 20  # two regions, one crowd box per class
    assert ignored.count(IGNORED_REGION) == 10


def evaluate(dataset: VisDroneDataset, ann_file: Path,
             boxes: List[List[float]], labels: List[int]) -> float:
    metric = CocoMetric(ann_file=str(ann_file), metric='bbox')
    metric.dataset_meta = dataset.metainfo
    scores = torch.linspace(0.9, 0.5, len(boxes))
    metric.process({}, [
        dict(
            img_id=1,
            ori_shape=(64, 96),
            pred_instances=dict(
                bboxes=torch.tensor(boxes),
                scores=scores,
                labels=torch.tensor(labels)))
    ])
    return metric.evaluate(1)['coco/bbox_mAP']


def test_detections_on_ignored_regions_are_no_false_positives(dataset):
    ann_file = dataset.ann_file
    hits = [PEDESTRIAN, CAR]
    assert evaluate(dataset, ann_file, hits, [0, 3]) == 1.0
    # The highest-scoring detection lies on the ignored region: ignored.
    assert evaluate(dataset, ann_file, [IGNORED_REGION] + hits,
                    [0, 0, 3]) == 1.0
    # The same detection on background is a false positive (control).
    assert evaluate(dataset, ann_file, [[0, 0, 8, 8]] + hits,
                    [0, 0, 3]) < 1.0


@pytest.mark.parametrize('stage', ['rpn', 'rcnn'])
def test_visdrone_config_ignores_boxes_on_ignored_regions(dataset, stage):
    """The config's assigners leave boxes inside an ignored region out of
    the loss (-1) instead of training them as background (0)."""
    cfg = Config.fromfile(str(VISDRONE_CONFIG))
    sample = dataset[0]['data_samples']
    with DefaultScope.overwrite_default_scope('mmdet'):
        assigner = TASK_UTILS.build(cfg.model.train_cfg[stage].assigner)
    priors = torch.tensor([[62., 1., 78., 9.], [80., 40., 92., 60.]])
    result = assigner.assign(
        InstanceData(priors=priors), sample.gt_instances,
        sample.ignored_instances)
    assert result.gt_inds.tolist() == [-1, 0]
    # Without the ignored instances the first box would be background.
    result = assigner.assign(InstanceData(priors=priors), sample.gt_instances)
    assert result.gt_inds.tolist() == [0, 0]


def test_yolov5_visdrone_dataset_pads_batches_and_keeps_ignored_regions(
        write_visdrone_split, tmp_path):
    """The YOLO flavour reads the same json, in mmyolo's registry, with
    mmyolo's batch-shape policy (one padded shape for each batch)."""
    from mmyolo.registry import DATASETS as YOLO_DATASETS
    split = write_visdrone_split(ANNOTATIONS, size=(96, 64))
    coco, _ = convert_visdrone(str(split))
    ann_file = tmp_path / 'val.json'
    ann_file.write_text(json.dumps(coco))
    with DefaultScope.overwrite_default_scope('mmyolo'):
        dataset = YOLO_DATASETS.build(
            dict(
                type='YOLOv5VisDroneDataset',
                data_root=str(split),
                ann_file=str(ann_file),
                data_prefix=dict(img='images/'),
                test_mode=True,
                batch_shapes_cfg=dict(
                    type='BatchShapePolicy',
                    batch_size=1,
                    img_size=64,
                    size_divisor=32,
                    extra_pad_ratio=0.5),
                pipeline=[]))
    assert dataset.metainfo['classes'] == VISDRONE_CLASSES
    info = dataset.get_data_info(0)
    # h / w = 2/3 at img_size 64: ceil(64 * (2/3, 1) / 32 + 0.5) * 32.
    assert tuple(info['batch_shape']) == (64, 96)
    ignored = [i['bbox'] for i in info['instances'] if i['ignore_flag']]
    assert IGNORED_REGION in ignored
