# Copyright (c) mmema contributors. All rights reserved.
"""Deployment: ONNX export of mmema models and its checks."""
from .onnx_export import (DYNAMO_MIN_OPSET, EXPORTERS, TensorMode, export_onnx,
                          flat_outputs, max_abs_difference, onnx_op_types,
                          onnxruntime_session)

__all__ = [
    'DYNAMO_MIN_OPSET', 'EXPORTERS', 'TensorMode', 'export_onnx',
    'flat_outputs', 'max_abs_difference', 'onnx_op_types',
    'onnxruntime_session'
]
