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


class SyncBNModel(ToyModel):
    """A model as upstream recipes build it for several GPUs."""

    def __init__(self) -> None:
        super().__init__()
        self.norm = nn.SyncBatchNorm(2)

    def forward(self, x: torch.Tensor, mode: str = 'loss'):
        return dict(loss=self.linear(self.norm(x)).pow(2).mean())


def test_sync_bn_becomes_bn_and_trains_on_cpu(gloo_group):
    module = SyncBNModel()
    module.norm.weight.data.fill_(2.0)
    model = CPUDistributedDataParallel(module=module, device_ids=[0])
    norm = model.module.norm
    # SyncBN runs on GPUs only; mmengine's BN of any dimension takes it.
    assert isinstance(norm, nn.modules.batchnorm._BatchNorm)
    assert not isinstance(norm, nn.SyncBatchNorm)
    assert torch.equal(norm.weight, torch.full((2, ), 2.0))  # weights kept
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    x = torch.randn(4, 2)
    # Reference: the BN forward of this one process's batch.
    expected = model.module.linear(
        nn.functional.batch_norm(x, None, None, norm.weight, norm.bias,
                                 True)).pow(2).mean()
    losses = model.train_step(dict(x=x), optim)
    torch.testing.assert_close(losses['loss'], expected.detach())
