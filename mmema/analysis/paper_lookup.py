# Copyright (c) mmema contributors. All rights reserved.
"""Find the paper table that matches a config's data set and model."""
from mmengine.config import Config

from .paper_numbers import PAPER_TABLES, PaperTable, get_paper_table


def _dataset_type(cfg: Config) -> str:
    dataset = cfg.get('test_dataloader', {}).get('dataset', {})
    while 'type' not in dataset and 'dataset' in dataset:
        dataset = dataset['dataset']
    return str(dataset.get('type', ''))


def paper_table_for(cfg: Config) -> PaperTable:
    """The paper table for a config, from its test data set and backbone.

    CIFAR-100 with a ResNet-50/101 gives the CIFAR tables, ImageNet with a
    MobileNetV2 the ImageNet table, COCO and VisDrone detectors the
    paper's YOLOv5 tables (the paper's detectors, not necessarily the
    config's: compare the EMA increments, not the totals).

    Args:
        cfg (Config): A detection or classification config.

    Returns:
        PaperTable: The matching table.

    Raises:
        KeyError: If no table matches; the message lists the tables.
    """
    dataset = _dataset_type(cfg).lower()
    backbone = cfg.model.get('backbone', {})
    backbone_type = str(backbone.get('type', '')).lower()
    depth = backbone.get('depth')
    if 'cifar100' in dataset and depth in (50, 101):
        return get_paper_table(f'cifar100_resnet{depth}')
    if 'imagenet' in dataset and 'mobilenetv2' in backbone_type:
        return get_paper_table('imagenet_mobilenetv2')
    if 'visdrone' in dataset:
        return get_paper_table('visdrone_yolov5x_p2')
    if 'coco' in dataset:
        return get_paper_table('coco_yolov5s')
    raise KeyError(
        f'No paper table matches this config (data set {dataset!r}, '
        f'backbone {backbone_type!r}, depth {depth!r}). Name one with '
        f'--paper TABLE: {list(PAPER_TABLES)}.')
