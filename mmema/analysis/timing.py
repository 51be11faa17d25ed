# Copyright (c) mmema contributors. All rights reserved.
"""Timing callables against each other on a shared, noisy machine.

Callables are timed round-robin, so a slow phase of the machine slows all
of one round; :func:`paired_ratio` compares them within rounds.
"""
import statistics
import time
from typing import Callable, Dict, List

import torch


def synchronize(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def elapsed_ms(fn: Callable[[], object], device: torch.device) -> float:
    """Wall time of one call in milliseconds."""
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return (time.perf_counter() - start) * 1e3


def interleaved_samples(fns: Dict[str, Callable[[],
                                                object]], device: torch.device,
                        repeats: int, warmup: int) -> Dict[str, List[float]]:
    """Times of several callables, timed round-robin.

    Args:
        fns (dict): Name to a callable to time.
        device (torch.device): Synchronised around each call.
        repeats (int): Timed rounds.
        warmup (int): Untimed rounds first.

    Returns:
        dict: Name to milliseconds, one per round.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    samples: Dict[str, List[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            samples[name].append(elapsed_ms(fn, device))
    return samples


def interleaved_medians(fns: Dict[str, Callable[[],
                                                object]], device: torch.device,
                        repeats: int, warmup: int) -> Dict[str, float]:
    """Median times of :func:`interleaved_samples`."""
    samples = interleaved_samples(fns, device, repeats, warmup)
    return {name: statistics.median(s) for name, s in samples.items()}


def paired_ratio(times: List[float], baseline: List[float]) -> float:
    """The median over rounds of ``times / baseline`` within each round.

    A round runs the callables back to back, so a slow phase of a shared
    machine scales both times of a round and cancels in its ratio.
    """
    return statistics.median(t / b for t, b in zip(times, baseline))


def ratio_rows(samples: Dict[str, List[float]],
               baseline: str) -> List[List[str]]:
    """Table rows of :func:`interleaved_samples`: per callable its median
    ms, the ratio of medians to ``baseline``'s and the paired ratio.

    Args:
        samples (dict): Name to milliseconds, one per round.
        baseline (str): The name the ratios are to.

    Returns:
        list[list[str]]: ``[name, ms, ratio, paired]`` per callable.
    """
    base = statistics.median(samples[baseline])
    return [[
        name, f'{statistics.median(times):.1f}',
        f'{statistics.median(times) / base:.3f}',
        f'{paired_ratio(times, samples[baseline]):.3f}'
    ] for name, times in samples.items()]
