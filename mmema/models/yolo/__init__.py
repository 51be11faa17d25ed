# Copyright (c) mmema contributors. All rights reserved.
"""Plugin hosts for mmyolo's YOLOv5 and YOLOv8 (registered in mmyolo)."""
from .plugin_yolo_csp_darknet import (PluginYOLOv5CSPDarknet,
                                      PluginYOLOv8CSPDarknet)
from .plugin_yolo_pafpn import PluginYOLOv5PAFPN, PluginYOLOv8PAFPN
from .yolov5_p2_pafpn import YOLOv5P2PAFPN

__all__ = [
    'PluginYOLOv5CSPDarknet', 'PluginYOLOv8CSPDarknet', 'PluginYOLOv5PAFPN',
    'PluginYOLOv8PAFPN', 'YOLOv5P2PAFPN'
]
