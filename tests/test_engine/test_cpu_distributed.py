# Copyright (c) mmema contributors. All rights reserved.
"""setup_cpu_distributed: gloo for each launcher without GPUs, upstream with.

The real ``init_dist`` runs in a subprocess: it sets the multiprocessing
start method, which must not leak into the test process.
"""
import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch
from mmengine.config import Config

from mmema.engine import cpu_distributed, setup_cpu_distributed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_init_dist_for_each_launcher_in_a_subprocess():
    """Each launcher's environment (world size 1) gives a gloo group."""
    script = textwrap.dedent("""
        import json, os, sys
        import torch
        import torch.distributed as dist
        from mmengine.config import Config
        from mmema.engine import setup_cpu_distributed

        envs = dict(
            pytorch=dict(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1'),
            slurm=dict(SLURM_PROCID='0', SLURM_NTASKS='1',
                       SLURM_NODELIST='localhost', SLURM_LOCALID='0'),
            mpi=dict(OMPI_COMM_WORLD_LOCAL_RANK='0',
                     OMPI_COMM_WORLD_SIZE='1', OMPI_COMM_WORLD_RANK='0'))
        set_device = torch.cuda.set_device
        report = {}
        for launcher, env in envs.items():
            os.environ.update(env)
            cfg = Config(dict(
                launcher=launcher, find_unused_parameters=True,
                env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=60))))
            created = setup_cpu_distributed(cfg)
            report[launcher] = dict(
                created=created,
                backend=dist.get_backend(),
                world_size=dist.get_world_size(),
                again=setup_cpu_distributed(cfg),
                wrapper=cfg.model_wrapper_cfg.to_dict(),
                set_device_restored=torch.cuda.set_device is set_device)
            dist.destroy_process_group()
        print(json.dumps(report))
    """)
    env = dict(
        os.environ,
        MASTER_ADDR='127.0.0.1',
        MASTER_PORT=str(free_port()),
        CUDA_VISIBLE_DEVICES='')
    proc = subprocess.run([sys.executable, '-c', script],
                          capture_output=True,
                          text=True,
                          env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    for launcher in ('pytorch', 'slurm', 'mpi'):
        assert report[launcher] == dict(
            created=True,
            backend='gloo',
            world_size=1,
            again=False,
            wrapper=dict(
                type='CPUDistributedDataParallel',
                broadcast_buffers=False,
                find_unused_parameters=True),
            set_device_restored=True), launcher


@pytest.fixture
def fake_init_dist(monkeypatch):
    """Record init_dist's arguments instead of creating a process group."""
    calls = []

    def init_dist(launcher, **kwargs):
        torch.cuda.set_device(0)  # raises on this machine unless skipped
        calls.append(dict(launcher=launcher, **kwargs))

    monkeypatch.setattr(cpu_distributed, 'init_dist', init_dist)
    monkeypatch.setattr(cpu_distributed, 'is_distributed', lambda: False)
    return calls


def test_no_launcher_changes_nothing(fake_init_dist):
    cfg = Config(dict(launcher='none'))
    assert not setup_cpu_distributed(cfg)
    assert fake_init_dist == [] and 'model_wrapper_cfg' not in cfg


def test_gpu_machine_keeps_upstream_nccl_path(fake_init_dist, monkeypatch):
    monkeypatch.setattr(cpu_distributed, 'get_device', lambda: 'cuda')
    cfg = Config(
        dict(
            launcher='pytorch',
            env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    assert not setup_cpu_distributed(cfg)
    assert fake_init_dist == [] and 'model_wrapper_cfg' not in cfg


def test_cpu_uses_gloo_and_skips_cuda_device_selection(fake_init_dist):
    set_device = torch.cuda.set_device
    cfg = Config(
        dict(
            launcher='pytorch',
            env_cfg=dict(dist_cfg=dict(backend='nccl', timeout=1800))))
    assert setup_cpu_distributed(cfg)
    assert fake_init_dist == [
        dict(launcher='pytorch', backend='gloo', timeout=1800)
    ]
    assert torch.cuda.set_device is set_device  # restored afterwards
    assert cfg.env_cfg.dist_cfg.backend == 'nccl'  # the config is kept


@pytest.mark.parametrize('wrapper,expected', [
    (dict(find_unused_parameters=True),
     dict(type='CPUDistributedDataParallel', find_unused_parameters=True)),
    (dict(type='MMDistributedDataParallel', detect_anomalous_params=True),
     dict(type='CPUDistributedDataParallel', detect_anomalous_params=True)),
    (dict(type='MMFullyShardedDataParallel'),
     dict(type='MMFullyShardedDataParallel')),
])
def test_user_wrapper_cfg_is_kept_except_its_type(fake_init_dist, wrapper,
                                                  expected):
    cfg = Config(dict(launcher='slurm', model_wrapper_cfg=wrapper))
    assert setup_cpu_distributed(cfg)
    assert cfg.model_wrapper_cfg.to_dict() == expected
