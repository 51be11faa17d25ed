# Copyright (c) mmema contributors. All rights reserved.
from .converters import (ConversionSummary, VisDroneFormatError,
                         convert_visdrone)
from .visdrone import VISDRONE_CLASSES, VisDroneDataset

__all__ = [
    'ConversionSummary', 'VISDRONE_CLASSES', 'VisDroneDataset',
    'VisDroneFormatError', 'convert_visdrone'
]
