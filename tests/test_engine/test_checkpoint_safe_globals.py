# Copyright (c) mmema contributors. All rights reserved.
"""Weights-only loading of mmengine checkpoints (torch >= 2.6)."""
import os
import pickle
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.logging import HistoryBuffer
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import mmema  # noqa: F401  (registers the allow-list, as custom_imports do)
from mmema.engine import (mmengine_checkpoint_globals,
                          register_checkpoint_safe_globals)


class ToyModel(BaseModel):
    """y = w x + b trained with an MSE loss."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor, mode: str = 'loss'):
        out = self.linear(x)
        if mode == 'loss':
            return dict(loss=((out - y)**2).mean())
        return out


class ToyDataset(Dataset):
    metainfo = dict(classes=('a', 'b'))

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> dict:
        return dict(x=torch.full((2, ), float(i)), y=torch.ones(1))


def toy_runner(work_dir: Path, max_epochs: int, resume: bool) -> Runner:
    return Runner(
        model=ToyModel(),
        work_dir=str(work_dir),
        experiment_name=f'toy_{max_epochs}_{resume}',
        train_dataloader=dict(
            dataset=ToyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=2,
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        param_scheduler=dict(type='MultiStepLR', milestones=[1]),
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1)),
        randomness=dict(seed=0),
        resume=resume)


@pytest.fixture(scope='module')
def checkpoint(tmp_path_factory) -> Path:
    """A checkpoint written by mmengine's Runner after one epoch."""
    work_dir = tmp_path_factory.mktemp('toy')
    toy_runner(work_dir, max_epochs=1, resume=False).train()
    return work_dir / 'epoch_1.pth'


@pytest.fixture
def no_safe_globals() -> Iterator[None]:
    """Empty torch's user allow-list for one test, then restore it."""
    torch.serialization.clear_safe_globals()
    try:
        yield
    finally:
        register_checkpoint_safe_globals()


def global_path(entry) -> str:
    if isinstance(entry, tuple):
        return entry[1]
    return f'{entry.__module__}.{entry.__qualname__}'


def test_runner_checkpoint_loads_weights_only(checkpoint):
    ckpt = torch.load(checkpoint, weights_only=True)
    full = torch.load(checkpoint, weights_only=False)
    assert ckpt['meta']['epoch'] == 1 and ckpt['meta']['iter'] == 2
    loss = ckpt['message_hub']['log_scalars']['train/loss']
    assert isinstance(loss, HistoryBuffer)
    np.testing.assert_array_equal(
        loss.data[0], full['message_hub']['log_scalars']['train/loss'].data[0])
    assert loss.mean() == full['message_hub']['log_scalars'][
        'train/loss'].mean()
    assert isinstance(ckpt['message_hub']['runtime_info']['eta'], np.float64)
    torch.testing.assert_close(ckpt['state_dict'], full['state_dict'])


def test_without_the_allow_list_weights_only_load_fails(
        checkpoint, no_safe_globals):
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(checkpoint, weights_only=True)


def test_allow_list_is_exactly_what_the_checkpoint_holds(
        checkpoint, no_safe_globals):
    needed = set(torch.serialization.get_unsafe_globals_in_checkpoint(
        checkpoint))
    allowed = {global_path(g) for g in mmengine_checkpoint_globals()}
    # dtype classes are no GLOBALs: a dtype is rebuilt by numpy.dtype and
    # its state set (BUILD), which torch allows for allow-listed types only.
    dtype_classes = {
        p
        for p in allowed if p.startswith('numpy.dtypes.')
    }
    assert needed == allowed - dtype_classes


def test_runner_resumes_weights_only(checkpoint):
    work_dir = checkpoint.parent
    runner = toy_runner(work_dir, max_epochs=2, resume=True)
    runner.train()
    assert runner.iter == 4 and runner.epoch == 2
    resumed = torch.load(work_dir / 'epoch_2.pth', weights_only=True)
    assert resumed['meta']['iter'] == 4
    # The resumed run continued the loss history of the first epoch.
    losses = resumed['message_hub']['log_scalars']['train/loss']
    assert len(losses.data[0]) == 4


class GetattrGadget:
    """Pickles as getattr(target, name), as an attacker's file could."""

    def __init__(self, target, name: str) -> None:
        self.target, self.name = target, name

    def __reduce__(self):
        return getattr, (self.target, self.name)


@pytest.mark.parametrize('target,name', [(HistoryBuffer, '__init__'),
                                         (HistoryBuffer, 'update'),
                                         (np.ndarray, 'tofile')])
def test_getattr_resolves_only_history_buffer_statistics(
        tmp_path, target, name):
    path = tmp_path / 'gadget.pth'
    torch.save({'x': GetattrGadget(target, name)}, path)
    with pytest.raises(pickle.UnpicklingError, match='refused getattr'):
        torch.load(path, weights_only=True)


def test_other_globals_stay_rejected_and_no_unsafe_override(tmp_path):
    assert 'TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD' not in os.environ
    path = tmp_path / 'module.pth'
    torch.save({'model': nn.Linear(2, 1)}, path)  # a pickled nn.Module
    with pytest.raises(pickle.UnpicklingError, match='Linear'):
        torch.load(path)  # the default stays weights_only=True
