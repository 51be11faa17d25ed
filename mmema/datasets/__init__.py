# Copyright (c) mmema contributors. All rights reserved.
from mmema.optional_deps import mmyolo_available
from .converters import (ConversionSummary, VisDroneFormatError,
                         convert_visdrone)
from .transforms import SeededAlbu
from .visdrone import VISDRONE_CLASSES, VisDroneDataset

__all__ = [
    'ConversionSummary', 'SeededAlbu', 'VISDRONE_CLASSES', 'VisDroneDataset',
    'VisDroneFormatError', 'convert_visdrone'
]

if mmyolo_available():
    from .yolov5_visdrone import YOLOv5VisDroneDataset  # noqa: F401
    __all__ += ['YOLOv5VisDroneDataset']
