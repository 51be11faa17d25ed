# Copyright (c) mmema contributors. All rights reserved.
"""Smoke test of the attention benchmark (tools/analysis_tools/
benchmark_attention.py) on tiny shapes: both modes run and print their
tables."""
import importlib.util
import re
from pathlib import Path

import pytest
import torch

from mmema.analysis import attention_benchmark

TOOL = (Path(__file__).parents[2] / 'tools' / 'analysis_tools' /
        'benchmark_attention.py')


def load_tool() -> object:
    """The benchmark as its tool runs it."""
    spec = importlib.util.spec_from_file_location('benchmark_attention',
                                                  TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_tool_runs_the_package_benchmark():
    assert load_tool().main is attention_benchmark.main


def test_module_table_has_every_module_and_ratio(capsys):
    attention_benchmark.main([
        '--shapes', '2,64,6,5', '1,32,17,9', '--repeats', '1', '--warmup', '0'
    ])
    out = capsys.readouterr().out
    assert 'intra-op threads' in out
    for name in ('bottleneck', 'EMA', 'reference EMA', 'SE', 'CA', 'CBAM',
                 'ECA', 'SA', 'NAM', 'memory floor'):
        assert out.count(name) >= 2, name
    ema_rows = [line.split() for line in out.splitlines()
                if re.match(r'\s*(\(\d.*\)\s+)?EMA\s', line)]
    assert len(ema_rows) == 2
    for row in ema_rows:
        # fwd ms, fwd/floor, fwd+bwd ms, vs reference, vs bottleneck, then
        # the peak memory in MB and as a multiple of the input.
        timings = [float(v) for v in row[-7:-2]]
        assert all(v > 0 for v in timings)
        assert float(row[-1].strip('()x')) > 0
    reference_rows = [line.split() for line in out.splitlines()
                      if re.match(r'\s*(\(\d.*\)\s+)?reference EMA\s', line)]
    assert len(reference_rows) == 2
    assert all(row[-4] == '1.00' for row in reference_rows)


def test_model_mode_prints_train_step_ratio(capsys):
    attention_benchmark.main([
        '--model', '--model-batch', '1', '--model-size', '32', '--repeats',
        '1', '--warmup', '0', '--threads', '1'
    ])
    out = capsys.readouterr().out
    assert 'train step, batch 1, 32x32' in out
    plain = re.search(r'ResNet-50\s+([\d.]+)\s+1\.000\s+1\.000', out)
    ours = re.search(r'\+ EMA \(mmema\)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)',
                     out)
    assert plain and ours and float(ours.group(2)) > 0
    # One round: the paired ratio is that round's ratio, as is the ratio
    # of the medians.
    assert ours.group(3) == ours.group(2)
    assert re.search(r'keeps its input\s+[\d.]+\s+[\d.]+\s+[\d.]+', out)


def test_keep_input_is_an_identity_that_keeps_its_input():
    keep = attention_benchmark.KeepInput()
    x = torch.randn(2, 3, 4, 5, requires_grad=True)
    out = keep(x)
    assert out.data_ptr() != x.data_ptr()
    torch.testing.assert_close(out, x, rtol=0, atol=0)
    assert out.grad_fn.saved_tensors[0] is x
    grad = torch.randn_like(x)
    out.backward(grad)
    assert x.grad.data_ptr() != grad.data_ptr()
    torch.testing.assert_close(x.grad, grad, rtol=0, atol=0)


def test_bad_shape_names_the_format():
    with pytest.raises(SystemExit):
        attention_benchmark.main(['--shapes', '8,256,56'])
