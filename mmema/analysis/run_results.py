# Copyright (c) mmema contributors. All rights reserved.
"""What a finished mmengine run measured, read from its work dir.

A work dir holds the config mmengine dumped (``<config name>.py``) and one
folder per run (``YYYYMMDD_HHMMSS/``) with the run's log (whose first lines
are the environment block: ``CUDA available``, ``GPU 0,1,...: <name>``,
``GPU number``, the world size) and its scalars
(``vis_data/scalars.json``, one JSON object per logged step; validation
steps carry the metrics). A test run (``tools/test.py``, or the demo's
``runner.test()``) also writes its metrics to ``YYYYMMDD_HHMMSS.json``.
"""
import json
import os
import os.path as osp
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Dict, Iterator, List, Optional

from mmengine.config import Config

from .attention_config import strip_ema

RUN_DIR = re.compile(r'^\d{8}_\d{6}$')
LOG_TIME = re.compile(r'^(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) - ')


@dataclass
class RunResult:
    """The metrics of one trained config, with how it was trained.

    Args:
        work_dir (str): The run's work dir.
        config (str): Name of the config (its file name without ``.py``).
        with_ema (bool): Whether the model holds an EMA layer.
        metrics (dict[str, float]): The evaluator's scalars, e.g.
            ``coco/bbox_mAP`` or ``accuracy/top1``.
        split (str): ``'test'`` when a test run wrote them, else ``'val'``
            (the training run's last validation).
        epochs (int, optional): Epochs trained; None for iteration-based
            runs.
        iterations (int): Iterations trained (the last one logged).
        date (str): Day the training run started, ``YYYY-MM-DD``.
        devices (str): ``'8x NVIDIA A100-SXM4-80GB'``, or ``'CPU, 2
            processes'``, from the training log's environment block.
        train_minutes (float): Wall time from the training log's first line
            to its last training line.
    """

    work_dir: str
    config: str
    with_ema: bool
    metrics: Dict[str, float]
    split: str
    epochs: Optional[int]
    iterations: int
    date: str
    devices: str
    train_minutes: float


def _run_dirs(work_dir: str) -> List[str]:
    """The run folders of ``work_dir``, oldest first."""
    return sorted(
        osp.join(work_dir, name) for name in os.listdir(work_dir)
        if RUN_DIR.match(name) and osp.isdir(osp.join(work_dir, name)))


def _json_lines(path: str) -> Iterator[dict]:
    """The JSON objects of a file with one per line."""
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f'{path}, line {number}, is not JSON '
                                 f'({error}): the file is corrupt or was '
                                 'cut off.') from error


def _is_metric(key: str) -> bool:
    """Evaluator scalars are prefixed by their metric (``coco/...``)."""
    return '/' in key


def _metrics(step: dict) -> Dict[str, float]:
    return {k: float(v) for k, v in step.items() if _is_metric(k)}


def devices_from_log(log: str) -> str:
    """The devices of a run, from its log's environment block.

    Args:
        log (str): Path of the run's ``.log``.

    Returns:
        str: ``'<world size>x <GPU name>'`` (names joined by ``' + '`` when
        the GPUs differ), or ``'CPU, <n> process(es)'``.

    Raises:
        ValueError: If the log has no environment block.
    """
    with open(log, encoding='utf-8') as f:
        head = f.read(64 * 1024)
    cuda = re.search(r'^\s*CUDA available: (\w+)', head, re.M)
    world = re.search(r'^\s*GPU number: (\d+)', head, re.M)
    if cuda is None or world is None:
        raise ValueError(f'{log} has no environment block (CUDA available, '
                         'GPU number): is it the log of an mmengine run?')
    size = int(world.group(1))
    if cuda.group(1) != 'True':
        return f'CPU, {size} process{"es" if size > 1 else ""}'
    names = re.findall(r'^\s*GPU [\d,]+: (.+)$', head, re.M)
    return f'{size}x ' + ' + '.join(dict.fromkeys(n.strip() for n in names))


def _train_minutes(log: str) -> float:
    times = []
    with open(log, encoding='utf-8') as f:
        for line in f:
            match = LOG_TIME.match(line)
            if match and (not times or 'Epoch(train)' in line
                          or 'Iter(train)' in line):
                times.append(match.group(1))
    if len(times) < 2:
        return 0.0
    start, end = (
        datetime.strptime(t, '%Y/%m/%d %H:%M:%S')
        for t in (times[0], times[-1]))
    return (end - start).total_seconds() / 60


def _dumped_config(work_dir: str) -> str:
    configs = sorted(
        name for name in os.listdir(work_dir) if name.endswith('.py'))
    if len(configs) != 1:
        raise ValueError(
            f'{work_dir} should hold the one config mmengine dumped there, '
            f'found {configs or "none"}: pass the work dir of one config.')
    return osp.join(work_dir, configs[0])


def read_run(work_dir: str) -> RunResult:
    """The result of the latest finished training run in ``work_dir``.

    The metrics are the latest test run's, when one ran after training
    (in its own folder or the training's), else the training's last
    validation.

    Args:
        work_dir (str): An mmengine work dir (``--work-dir`` of
            ``tools/train.py``).

    Returns:
        RunResult: What the run measured.

    Raises:
        FileNotFoundError: If ``work_dir`` does not exist.
        ValueError: If it holds no finished training run with metrics, or
            a file of the run is corrupt; the message names it.
    """
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'Work dir {work_dir!r} does not exist.')
    config = _dumped_config(work_dir)
    train_run, train_steps, val_metrics = None, [], {}
    for run_dir in _run_dirs(work_dir):
        scalars = osp.join(run_dir, 'vis_data', 'scalars.json')
        if not osp.isfile(scalars):
            continue
        steps = list(_json_lines(scalars))
        train = [s for s in steps if 'loss' in s]
        if train:
            train_run, train_steps = run_dir, train
            val = [m for m in map(_metrics, steps) if m]
            val_metrics = val[-1] if val else {}
    if train_run is None:
        raise ValueError(f'{work_dir} holds no training run (no '
                         '<timestamp>/vis_data/scalars.json with losses).')
    metrics, split = val_metrics, 'val'
    for run_dir in _run_dirs(work_dir):
        test_json = osp.join(run_dir, osp.basename(run_dir) + '.json')
        if run_dir >= train_run and osp.isfile(test_json):
            tested = [_metrics(s) for s in _json_lines(test_json)]
            if tested and tested[-1]:
                metrics, split = tested[-1], 'test'
    if not metrics:
        raise ValueError(f'The training run {train_run} logged no metrics '
                         'and no test ran after it: run tools/test.py '
                         'CONFIG CHECKPOINT --work-dir ' + work_dir)
    log = osp.join(train_run, osp.basename(train_run) + '.log')
    stamp = osp.basename(train_run)
    epochs = [s['epoch'] for s in train_steps if 'epoch' in s]
    return RunResult(
        work_dir=work_dir,
        config=osp.splitext(osp.basename(config))[0],
        with_ema=strip_ema(Config.fromfile(config).model)[1] > 0,
        metrics=metrics,
        split=split,
        epochs=max(epochs) if epochs else None,
        iterations=max(s.get('iter', s.get('step', 0)) for s in train_steps),
        date=f'{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}',
        devices=devices_from_log(log),
        train_minutes=_train_minutes(log))
