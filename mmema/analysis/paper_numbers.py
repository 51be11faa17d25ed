# Copyright (c) mmema contributors. All rights reserved.
"""The EMA paper's result tables as plain data.

Source: D. Ouyang et al., `Efficient Multi-Scale Attention Module with
Cross-Spatial Learning <https://arxiv.org/abs/2305.13563>`_ (ICASSP 2023),
tables as given in the official README (transcribed in
``docs/EMA_SPEC.md``). Tools print these cells beside what mmema measures
(``tools/analysis_tools/paper_table.py``, ``get_flops.py --paper``).

Every cell is stored as printed in the paper. ``params_m`` is in millions,
``gflops`` in GFLOPs (``None`` where the paper gives none) and metrics in
percent under the names of :attr:`PaperTable.metric_names`.
"""
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Optional, Tuple

#: Attention names as used across mmema (registry types, config names).
ATTENTIONS: Tuple[str, ...] = ('baseline', 'SE', 'CA', 'CBAM', 'ECA', 'SA',
                               'NAM', 'EMA')


@dataclass(frozen=True)
class PaperRow:
    """One row of a paper table: one attention on one model.

    Args:
        attention (str): One of :data:`ATTENTIONS`.
        params_m (float): Parameters in millions, as printed.
        metrics (Mapping[str, float]): Metric name to value in percent.
        gflops (float, optional): GFLOPs, as printed. Defaults to None
            (not reported).
        params_decimals (int): Decimals the paper prints for ``params_m``
            (``26.2M`` has 1). Defaults to 2.
    """

    attention: str
    params_m: float
    metrics: Mapping[str, float]
    gflops: Optional[float] = None
    params_decimals: int = 2

    @property
    def params_rounding_m(self) -> float:
        """Half a unit of the last printed digit of ``params_m``.

        A measured count within this distance of ``params_m`` rounds to the
        printed value.
        """
        return 0.5 * 10**-self.params_decimals

    def params_match(self, measured_params: int) -> bool:
        """Whether ``measured_params`` (a count) rounds to ``params_m``."""
        distance = abs(measured_params / 1e6 - self.params_m)
        return distance <= self.params_rounding_m + 1e-9


@dataclass(frozen=True)
class PaperTable:
    """One table of the paper: one model on one dataset.

    Args:
        key (str): Identifier, e.g. ``'cifar100_resnet50'``.
        title (str): Human-readable description of the setting.
        model (str): Backbone or detector the rows share.
        dataset (str): Dataset and split the metrics are on.
        input_size (Tuple[int, int]): Input (height, width) in pixels.
        placement (str): Where the paper inserts the attention.
        metric_names (Tuple[str, ...]): Names of the metric columns.
        rows (Tuple[PaperRow, ...]): The table's rows, baseline first.
        counting (str): How the paper's code counts Params and GFLOPs, where
            it is not mmengine's way (empty). Defaults to ''.
        flops_per_multiply_add (int): FLOPs the paper's GFLOPs count per
            multiply-add: 2 for YOLOv5's model summary, 1 as mmengine
            counts. Defaults to 1.
        flops_operators (Tuple[str, ...]): The mmengine operator kinds the
            paper's FLOPs count, where it counts only some
            (``('conv', 'linear')``: MobileNetV2's customary 300M); empty
            for all. Defaults to ().
    """

    key: str
    title: str
    model: str
    dataset: str
    input_size: Tuple[int, int]
    placement: str
    metric_names: Tuple[str, ...]
    rows: Tuple[PaperRow, ...] = field(repr=False)
    counting: str = ''
    flops_per_multiply_add: int = 1
    flops_operators: Tuple[str, ...] = ()

    @property
    def attentions(self) -> Tuple[str, ...]:
        """Attention names that have a row in this table, in order."""
        return tuple(row.attention for row in self.rows)

    def row(self, attention: str) -> PaperRow:
        """The row of ``attention``.

        Args:
            attention (str): An attention name, e.g. ``'EMA'``.

        Returns:
            PaperRow: The paper's row for that attention.

        Raises:
            KeyError: If the table has no row for ``attention``.
        """
        for row in self.rows:
            if row.attention == attention:
                return row
        raise KeyError(f'The paper table {self.key!r} has no row for '
                       f'{attention!r}; it has {list(self.attentions)}.')


def _row(attention: str,
         params_m: float,
         gflops: Optional[float] = None,
         params_decimals: int = 2,
         **metrics: float) -> PaperRow:
    return PaperRow(attention, params_m, MappingProxyType(metrics), gflops,
                    params_decimals)


def _classification(attention: str,
                    params_m: float,
                    top1: float,
                    top5: float,
                    params_decimals: int = 2) -> PaperRow:
    return _row(
        attention, params_m, params_decimals=params_decimals, top1=top1,
        top5=top5)


def _detection(attention: str, params_m: float, gflops: Optional[float],
               map50: float, map50_95: float) -> PaperRow:
    return _row(attention, params_m, gflops, **{
        'mAP50': map50,
        'mAP50-95': map50_95
    })


_RESNET_CIFAR_PLACEMENT = ('every bottleneck, after the third conv and its '
                           "norm, before the residual add (position="
                           "'after_conv3', all stages)")
_CIFAR_TITLE = 'CIFAR-100, {}, 32 px, 200 epochs'
_CLASSIFICATION_METRICS = ('top1', 'top5')
_DETECTION_METRICS = ('mAP50', 'mAP50-95')
_YOLOV5_COUNTING = (
    "YOLOv5's model summary (thop): 2 FLOPs per multiply-add; Params as "
    'built, or with each conv block\'s BN folded into its conv as its '
    'validation script prints them')



def _cifar_resnet(depth: int, rows: Tuple[PaperRow, ...]) -> PaperTable:
    """The paper's CIFAR-100 table of ResNet-``depth``."""
    model = f'ResNet-{depth}'
    return PaperTable(
        key=f'cifar100_resnet{depth}',
        title=_CIFAR_TITLE.format(model),
        model=model,
        dataset='CIFAR-100 test',
        input_size=(32, 32),
        placement=_RESNET_CIFAR_PLACEMENT,
        metric_names=_CLASSIFICATION_METRICS,
        rows=rows)


_TABLES = (
    _cifar_resnet(
        50, (
            _classification('baseline', 23.71, 77.26, 93.63),
            _classification('CBAM', 26.24, 80.56, 95.34),
            _classification('SA', 23.71, 79.92, 95.00),
            _classification('ECA', 23.71, 79.68, 95.05),
            _classification('NAM', 23.71, 80.62, 95.28),
            _classification('CA', 25.57, 80.17, 94.94),
            _classification('SE', 26.2, 79.71, 94.82, params_decimals=1),
            _classification('EMA', 23.85, 80.69, 95.59),
        )),
    _cifar_resnet(
        101, (
            _classification('baseline', 42.70, 77.78, 94.39),
            _classification('CA', 46.22, 80.01, 94.78),
            _classification('EMA', 42.96, 80.86, 95.75),
        )),
    PaperTable(
        key='cifar100_resnet50_mmpretrain',
        title="mmpretrain's own ResNet-50 CIFAR-100 recipe (its model zoo)",
        model='ResNet-50',
        dataset='CIFAR-100 test',
        input_size=(32, 32),
        placement='none (baseline only)',
        metric_names=_CLASSIFICATION_METRICS,
        rows=(_classification('baseline', 23.71, 79.90, 95.19), )),
    PaperTable(
        key='imagenet_mobilenetv2',
        title='ImageNet-1k, MobileNetV2, 224 px, 400 epochs (timm recipe)',
        model='MobileNetV2',
        dataset='ImageNet-1k val',
        input_size=(224, 224),
        placement=('after the depthwise conv and its BN, before the '
                   'pointwise-linear conv, in blocks with more than 144 mid '
                   'channels'),
        metric_names=('top1', ),
        rows=(
            _row('baseline', 3.50, 0.300, top1=72.3),
            _row('EMA', 3.55, 0.306, top1=74.32),
        ),
        counting=('torchvision\'s and timm\'s convention: the multiply-adds '
                  'of convolutions and linear layers only (MobileNetV2: '
                  '300.77M); mmengine also counts batch norm (2 FLOPs per '
                  'element, 13.36M) and pooling (0.06M)'),
        flops_operators=('conv', 'linear')),
    PaperTable(
        key='coco_yolov5s',
        title='COCO val, YOLOv5s v6.0, 640 px, 300 epochs',
        model='YOLOv5s v6.0',
        dataset='COCO val2017',
        input_size=(640, 640),
        placement=('after the C3 blocks of P4 and P5 (256 and 512 channels), '
                   'before SPPF'),
        metric_names=_DETECTION_METRICS,
        rows=(
            _detection('baseline', 7.23, 16.5, 56.0, 37.2),
            _detection('CBAM', 7.27, 16.6, 57.1, 37.7),
            _detection('SA', 7.23, 16.5, 56.8, 37.4),
            _detection('ECA', 7.23, 16.5, 57.1, 37.6),
            _detection('CA', 7.26, 16.5, 57.5, 38.1),
            _detection('EMA', 7.24, 16.53, 57.8, 38.4),
        ),
        counting=_YOLOV5_COUNTING,
        flops_per_multiply_add=2),
    PaperTable(
        key='visdrone_yolov5x_p2',
        title='VisDrone2019-DET, YOLOv5x-P2, 640 px',
        model='YOLOv5x-P2',
        dataset='VisDrone2019-DET val',
        input_size=(640, 640),
        placement='in the neck, after five C3 blocks',
        metric_names=_DETECTION_METRICS,
        rows=(
            _detection('baseline', 90.96, 314.2, 49.29, 30.0),
            _detection('CBAM', 91.31, None, 49.40, 30.1),
            _detection('CA', 91.28, None, 49.30, 30.1),
            _detection('EMA', 91.18, 315.0, 49.70, 30.4),
        ),
        counting=_YOLOV5_COUNTING,
        flops_per_multiply_add=2),
)

#: Every paper table by key.
PAPER_TABLES: Mapping[str, PaperTable] = MappingProxyType(
    {table.key: table
     for table in _TABLES})


def get_paper_table(key: str) -> PaperTable:
    """The paper table called ``key``.

    Args:
        key (str): A key of :data:`PAPER_TABLES`, e.g. ``'cifar100_resnet50'``.

    Returns:
        PaperTable: The table.

    Raises:
        KeyError: If no table has that key; the message lists the keys.
    """
    if key not in PAPER_TABLES:
        raise KeyError(f'No paper table {key!r}; choose one of '
                       f'{list(PAPER_TABLES)}.')
    return PAPER_TABLES[key]
