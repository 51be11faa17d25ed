# Copyright (c) mmema contributors. All rights reserved.
"""The timing helpers every benchmark shares."""
import pytest
import torch

from mmema.analysis.timing import interleaved_samples, paired_ratio


def test_paired_ratio_is_the_median_of_ratios_within_rounds():
    # The machine slows down in rounds two and three. Each round's own
    # ratio is 1.2, 1.1, 1.3 (median 1.2); the medians' ratio, 26 / 20,
    # mixes rounds.
    assert paired_ratio([12.0, 44.0, 26.0], [10.0, 40.0, 20.0]) == \
        pytest.approx(1.2)


def test_interleaved_samples_time_every_callable_each_round():
    calls = []
    samples = interleaved_samples(
        {
            'a': lambda: calls.append('a'),
            'b': lambda: calls.append('b')
        },
        device=torch.device('cpu'),
        repeats=3,
        warmup=1)
    assert calls == ['a', 'b'] * 4  # warm-up round first, then round-robin
    assert {k: len(v) for k, v in samples.items()} == {'a': 3, 'b': 3}
    assert all(t >= 0 for v in samples.values() for t in v)


def test_ratio_rows_give_medians_and_both_ratios():
    from mmema.analysis.timing import ratio_rows
    samples = {'plain': [10.0, 40.0, 20.0], 'ema': [12.0, 44.0, 26.0]}
    assert ratio_rows(samples, 'plain') == [
        ['plain', '20.0', '1.000', '1.000'],
        ['ema', '26.0', '1.300', '1.200'],  # medians 26 / 20; rounds 1.2
    ]
