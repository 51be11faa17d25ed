# Copyright (c) mmema contributors. All rights reserved.
from .shapes_dataset import (SHAPES_CLASSES, draw_shapes_image,
                             generate_shapes_split)

__all__ = ['SHAPES_CLASSES', 'draw_shapes_image', 'generate_shapes_split']
