# Copyright (c) mmema contributors. All rights reserved.
"""CPUDistributedDataParallel on a one-process gloo group."""
from typing import Iterator

import pytest
import torch
import torch.distributed as torch_dist
import torch.nn as nn
from mmengine.model import BaseModel, MMDistributedDataParallel
from mmengine.optim import OptimWrapper
from mmengine.registry import MODEL_WRAPPERS

from mmema.engine import CPUDistributedDataParallel


class ToyModel(BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, x: torch.Tensor, mode: str = 'loss'):
        return dict(loss=self.linear(x).pow(2).mean())


@pytest.fixture
def gloo_group(tmp_path) -> Iterator[None]:
    torch_dist.init_process_group(
        'gloo', init_method=f'file://{tmp_path}/store', rank=0, world_size=1)
    try:
        yield
    finally:
        torch_dist.destroy_process_group()


def test_upstream_wrapper_rejects_device_ids_for_cpu(gloo_group):
    with pytest.raises(ValueError, match='device_ids'):
        MMDistributedDataParallel(module=ToyModel(), device_ids=[0])


def test_built_like_the_runner_and_trains_on_cpu(gloo_group):
    # Runner.wrap_model passes device_ids=[LOCAL_RANK] to any DDP subclass.
    model = MODEL_WRAPPERS.build(
        dict(type='CPUDistributedDataParallel', broadcast_buffers=False),
        default_args=dict(module=ToyModel(), device_ids=[0]))
    assert isinstance(model, CPUDistributedDataParallel)
    assert model.device_ids is None
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    before = model.module.linear.weight.detach().clone()
    losses = model.train_step(dict(x=torch.ones(4, 2)), optim)
    assert losses['loss'] > 0
    assert not torch.equal(model.module.linear.weight, before)
