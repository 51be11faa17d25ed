# Copyright (c) mmema contributors. All rights reserved.
"""Export an mmema, mmdet, mmpretrain or mmyolo model to ONNX and check it.

What is exported is what the model computes in ``mode='tensor'``, as
mmdet's and mmpretrain's own tools export it: a classifier's logits, a
detector's head outputs before post-processing (boxes are decoded and
suppressed by the deployment runtime). Both of PyTorch's exporters are
supported:

* ``'torchscript'``: ``torch.onnx.export(dynamo=False)``, the exporter
  mmdeploy and most deployment scripts call, at any opset from 11;
* ``'dynamo'``: ``torch.onnx.export(dynamo=True)``, which writes opset 18
  and converts down with ONNX's version converter: 17 works; below 16 the
  converter has no adapters for ops that every exported graph holds
  (``Identity``, ``Shape``, the type-only revisions of ``Mul`` or
  ``Slice``), whatever the model, and :func:`export_onnx` says so
  before exporting.
"""
import warnings
from typing import List, Optional, Sequence

import numpy as np
import onnx
import torch
import torch.nn as nn
from torch import Tensor

EXPORTERS = ('torchscript', 'dynamo')
#: The lowest opset the dynamo exporter's graphs can be converted to.
DYNAMO_MIN_OPSET = 17
#: Names of the input's dynamic dimensions.
DYNAMIC_DIMS = {0: 'batch', 2: 'height', 3: 'width'}


class TensorMode(nn.Module):
    """A model's ``mode='tensor'`` forward on one image tensor.

    Args:
        model (nn.Module): An mmengine model (classifier or detector).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: Tensor) -> object:
        """Args: inputs (Tensor): (B, 3, H, W). Returns: the model's raw
        outputs (a tensor, or nested tuples and lists of tensors)."""
        return self.model(inputs, mode='tensor')


def flat_outputs(outputs: object) -> List[Tensor]:
    """The tensors of nested outputs in the order exporters flatten them."""
    if isinstance(outputs, Tensor):
        return [outputs]
    return [t for item in outputs for t in flat_outputs(item)]


def export_onnx(model: nn.Module,
                example: Tensor,
                path: str,
                exporter: str = 'torchscript',
                opset: int = 17,
                dynamic: bool = True) -> onnx.ModelProto:
    """Export ``model`` (called on one tensor) to an ONNX file.

    Args:
        model (nn.Module): The module to export, in eval mode; wrap an
            mmengine model in :class:`TensorMode`.
        example (Tensor): Example input, (B, 3, H, W).
        path (str): Output file.
        exporter (str): ``'torchscript'`` or ``'dynamo'``. Defaults to
            ``'torchscript'``.
        opset (int): ONNX opset. Defaults to 17.
        dynamic (bool): Batch, height and width dynamic. Defaults to True.

    Returns:
        onnx.ModelProto: The exported model, as written.

    Raises:
        ValueError: For an unknown exporter, or an opset the exporter
            cannot produce (dynamo below :data:`DYNAMO_MIN_OPSET`).
        RuntimeError: If the written graph's opset is not ``opset``.
    """
    if exporter not in EXPORTERS:
        raise ValueError(f'exporter must be one of {EXPORTERS}, got '
                         f'{exporter!r}.')
    if exporter == 'dynamo' and opset < DYNAMO_MIN_OPSET:
        raise ValueError(
            f'The dynamo exporter cannot write opset {opset}: '
            'torch.onnx.export(dynamo=True) exports opset 18 and converts '
            "down with ONNX's version converter, which has no adapters "
            f'below opset {DYNAMO_MIN_OPSET - 1} for ops every graph holds '
            f"(Identity, Shape, Mul, Slice); export opset {opset} with "
            f"exporter='torchscript', or opset {DYNAMO_MIN_OPSET} or 18 "
            'with dynamo.')
    with torch.no_grad(), warnings.catch_warnings():
        # Both exporters warn about traced shapes and constant folding.
        warnings.simplefilter('ignore')
        if exporter == 'torchscript':
            torch.onnx.export(
                model, (example, ),
                path,
                input_names=['inputs'],
                opset_version=opset,
                dynamo=False,
                dynamic_axes={'inputs': DYNAMIC_DIMS} if dynamic else None)
        else:
            dims = {
                axis: torch.export.Dim.AUTO
                for axis in DYNAMIC_DIMS
            } if dynamic else None
            torch.onnx.export(
                model, (example, ),
                path,
                input_names=['inputs'],
                opset_version=opset,
                dynamo=True,
                dynamic_shapes=(dims, ) if dynamic else None)
    exported = onnx.load(path)
    written = next(
        o.version for o in exported.opset_import
        if o.domain in ('', 'ai.onnx'))
    if written != opset:
        raise RuntimeError(f'The {exporter} exporter wrote opset {written} '
                           f'to {path}, not the {opset} asked for.')
    return exported


def onnx_op_types(model: onnx.ModelProto) -> List[str]:
    """The operator types of a graph, sorted, with their domain if any."""
    return sorted({
        f'{n.domain}::{n.op_type}' if n.domain else n.op_type
        for n in model.graph.node
    })


def onnxruntime_session(path: str, threads: Optional[int] = None) -> object:
    """An onnxruntime CPU session for ``path`` (``threads`` intra-op and
    one inter-op thread when given)."""
    import onnxruntime
    options = onnxruntime.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        path, options, providers=['CPUExecutionProvider'])


def max_abs_difference(model: nn.Module,
                       path: str,
                       inputs: Sequence[Tensor],
                       session: Optional[object] = None) -> float:
    """Largest difference between PyTorch's and onnxruntime's outputs.

    Args:
        model (nn.Module): The exported module.
        path (str): Its ONNX file.
        inputs (Sequence[Tensor]): Inputs to compare on (any sizes the
            export's dynamic dimensions allow).
        session (onnxruntime.InferenceSession, optional): A session of
            ``path`` to run; one with the default options if not given.

    Returns:
        float: The largest absolute difference over all outputs.
    """
    session = session or onnxruntime_session(path)
    worst = 0.0
    for x in inputs:
        with torch.no_grad():
            expected = flat_outputs(model(x))
        got = session.run(None, {'inputs': x.numpy()})
        if len(got) != len(expected):
            raise ValueError(f'{path} has {len(got)} outputs, the model '
                             f'{len(expected)}.')
        for want, have in zip(expected, got):
            worst = max(worst, float(np.abs(want.numpy() - have).max()))
    return worst
