# Copyright (c) mmema contributors. All rights reserved.
"""tools/analysis_tools/get_flops.py on an EMA config and its baseline."""
import os.path as osp
import re
import subprocess
import sys
from typing import Dict, List

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
EMA_CONFIG = 'configs/ema_resnet50_cifar100.py'
BASELINE_CONFIG = 'configs/ablations/resnet50-baseline_cifar100.py'


def ema_params(channels: int, factor: int = 32) -> int:
    """Parameters of one EMA: conv1x1 and conv3x3 (c -> c, bias), GN."""
    c = channels // factor
    return (c * c + c) + (9 * c * c + c) + 2 * c


def get_flops(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, 'tools/analysis_tools/get_flops.py', *args],
        cwd=ROOT,
        capture_output=True,
        text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def table_rows(output: str) -> Dict[str, List[str]]:
    """Data rows of the printed Markdown table, by their first cell."""
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip('|').split('|')]
        if line.startswith('|') and not set(line) <= set('|- ') and (
                cells[0] != 'model'):
            rows[cells[0]] = cells[1:]
    return rows


def test_ema_config_and_baseline_config_agree():
    ema_out = get_flops(EMA_CONFIG, '--paper')
    baseline_out = get_flops(BASELINE_CONFIG)

    assert 'input (1, 3, 32, 32)' in ema_out  # CIFAR's crop size
    ema_rows, baseline_rows = table_rows(ema_out), table_rows(baseline_out)
    assert list(ema_rows) == ['with EMA', 'without EMA']
    assert list(baseline_rows) == ['as configured']
    # Stripping EMA gives exactly the baseline config's model, whose size is
    # mmpretrain's (and the paper's) ResNet-50 on CIFAR-100: 23.71M.
    assert ema_rows['without EMA'][:2] == baseline_rows['as configured'][:2]
    assert baseline_rows['as configured'][0] == '23.71'
    # EMA after conv3 of all 3 + 4 + 6 + 3 bottlenecks of ResNet-50.
    expected = (3 * ema_params(256) + 4 * ema_params(512) +
                6 * ema_params(1024) + 3 * ema_params(2048))
    added = int(
        re.search(r'EMA adds ([\d,]+) parameters',
                  ema_out).group(1).replace(',', ''))
    assert added == expected == 198_368
    assert ema_rows['with EMA'][2] == f'{expected / 1e6:.3f}'
    with_flops, without_flops = (float(ema_rows[r][1]) for r in ema_rows)
    # Cells are rounded to 1e-3 GFLOPs.
    assert with_flops - without_flops == pytest.approx(
        float(ema_rows['with EMA'][3]), abs=2e-3)
    # --paper puts the paper's cells beside the builds.
    assert ema_rows['with EMA'][4:] == ['23.85', '-']
    assert ema_rows['without EMA'][4:] == ['23.71', '-']


def test_yolo_ablation_sits_beside_its_attentions_paper_row():
    """A config without EMA is compared with the paper's row of the
    attention it holds; YOLO tables add the paper's counting."""
    out = get_flops(
        'configs/ablations/yolov5_s-v61-ca_syncbn_fast_8xb16-300e_coco.py',
        '--paper')
    header = next(line for line in out.splitlines() if 'model' in line)
    assert 'Params (M), BN folded' in header and 'GFLOPs x2' in header
    row = table_rows(out)['as configured']
    # CA's 32,328 parameters in mmema's CA, BN folded: the paper's 7.26M.
    assert row[:1] + row[4:5] + row[6:] == ['7.27', '7.26', '7.26', '16.5']
    assert float(row[5]) == pytest.approx(2 * float(row[1]), abs=2e-3)
    assert "paper counting: YOLOv5's model summary" in out


def conv_linear_multiply_adds(config: str) -> int:
    """Multiply-adds of the model's convolutions and linear layers at
    224x224, from each layer's output size and kernel (forward hooks)."""
    import torch
    import torch.nn as nn
    from mmengine.config import Config
    from mmengine.registry import MODELS, DefaultScope

    import mmema  # noqa: F401
    cfg = Config.fromfile(osp.join(ROOT, config))
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        model = MODELS.build(cfg.model).eval()
    total = 0

    def hook(module, args, out):
        nonlocal total
        if isinstance(module, nn.Conv2d):
            kh, kw = module.kernel_size
            total += out.numel() * module.in_channels // module.groups * (
                kh * kw)
        else:
            total += out.numel() * module.in_features

    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            module.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.randn(1, 3, 224, 224), mode='tensor')
    return total


def test_mobilenet_v2_prints_the_papers_flops_convention():
    """MobileNetV2's paper cell (300M) counts convs and the classifier
    only; the tool prints that count beside mmengine's."""
    config = 'configs/classification/mobilenet-v2-ema_8xb32_in1k.py'
    out = get_flops(config, '--paper')
    header = next(line for line in out.splitlines() if 'model' in line)
    assert 'GFLOPs (conv+linear)' in header
    assert 'BN folded' not in header
    rows = table_rows(out)
    baseline = conv_linear_multiply_adds(config)
    assert baseline == 300_774_272  # torchvision's MobileNetV2: 300.77M
    # mmema's EMA has no convolution (the exact identities): the same.
    for name in ('with EMA', 'without EMA'):
        assert rows[name][4] == f'{baseline / 1e9:.3f}'
        assert float(rows[name][1]) > float(rows[name][4])  # + batch norm
    assert rows['without EMA'][5:] == ['3.50', '0.3']
    assert "paper counting: torchvision's and timm's convention" in out
