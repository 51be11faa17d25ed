# Copyright (c) mmema contributors. All rights reserved.
"""Smoke test of the inference benchmark (tools/analysis_tools/
benchmark_inference.py) on a small input: both runtimes time the plain,
EMA and SE models and print the ratios."""
import re

import pytest

from mmema.analysis import inference_benchmark


@pytest.mark.parametrize('runtime,where', [
    ('pytorch', 'PyTorch eager, EMA: '),
    ('onnxruntime', 'onnxruntime (TorchScript exporter, opset 17)'),
])
def test_prints_each_model_against_the_plain_one(runtime, where, capsys):
    inference_benchmark.main([
        '--runtime', runtime, '--size', '32', '--repeats', '2', '--warmup', '0'
    ])
    out = capsys.readouterr().out
    assert 'inference, batch 1, 32x32, 1 intra-op thread(s), ' + where in out
    rows = {
        line.rsplit(None, 3)[0]: line.rsplit(None, 3)[1:]
        for line in out.splitlines()[2:]
    }
    assert set(rows) == {'resnet50', 'resnet50 + EMA', 'resnet50 + SE'}
    assert rows['resnet50'][1:] == ['1.000', '1.000']
    for ms, ratio, paired in rows.values():
        assert float(ms) > 0 and float(ratio) > 0 and float(paired) > 0
    assert re.search(r'resnet50 \+ EMA\s+\d+\.\d\s+\d\.\d{3}', out)
