# Copyright (c) mmema contributors. All rights reserved.
from .visdrone2coco import (ConversionSummary, VisDroneBox,
                            VisDroneFormatError, convert_visdrone, parse_line)

__all__ = [
    'ConversionSummary', 'VisDroneBox', 'VisDroneFormatError',
    'convert_visdrone', 'parse_line'
]
