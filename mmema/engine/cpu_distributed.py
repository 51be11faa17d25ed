# Copyright (c) mmema contributors. All rights reserved.
"""Distributed training and testing on machines without an accelerator.

mmengine 0.10.7's ``init_dist`` calls ``torch.cuda.set_device`` before it
creates the process group, and its ``Runner.wrap_model`` passes
``device_ids`` to DDP: both fail on a CPU-only machine. Called by
``tools/train.py`` and ``tools/test.py`` before the Runner is built,
:func:`setup_cpu_distributed` creates a gloo process group there (the
Runner then skips its own ``init_dist``) and selects
:class:`CPUDistributedDataParallel`. With an accelerator it does nothing, so
GPU runs keep NCCL and mmengine's behaviour.
"""
from contextlib import contextmanager
from typing import Iterator

import torch
from mmengine.config import Config
from mmengine.device import get_device
from mmengine.dist import init_dist, is_distributed

UPSTREAM_WRAPPER = 'MMDistributedDataParallel'
CPU_WRAPPER = 'CPUDistributedDataParallel'


@contextmanager
def cuda_device_selection_skipped() -> Iterator[None]:
    """Make ``torch.cuda.set_device`` a no-op inside the block.

    A machine without CUDA has no device to select; everything else
    ``init_dist`` does (reading the launcher's environment, creating the
    process group) still applies.
    """
    set_device = torch.cuda.set_device
    torch.cuda.set_device = lambda device: None
    try:
        yield
    finally:
        torch.cuda.set_device = set_device


def setup_cpu_distributed(cfg: Config) -> bool:
    """Initialise gloo and pick a CPU-capable wrapper for ``cfg.launcher``.

    Args:
        cfg (Config): The run's config; ``cfg.launcher`` is one of 'none',
            'pytorch', 'slurm', 'mpi'. ``model_wrapper_cfg`` is set (or its
            type switched from ``MMDistributedDataParallel``) to
            ``CPUDistributedDataParallel`` when a CPU process group is made.

    Returns:
        bool: Whether a CPU process group was created (False without a
        launcher, with an accelerator, or when one already exists).
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or get_device() != 'cpu' or is_distributed():
        return False
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    dist_cfg['backend'] = 'gloo'  # NCCL needs GPUs.
    with cuda_device_selection_skipped():
        init_dist(launcher, **dist_cfg)

    wrapper_cfg = cfg.get('model_wrapper_cfg')
    if wrapper_cfg is None:
        # The arguments Runner.wrap_model gives DDP without a wrapper config.
        cfg.model_wrapper_cfg = dict(
            type=CPU_WRAPPER,
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    elif wrapper_cfg.get('type', UPSTREAM_WRAPPER) == UPSTREAM_WRAPPER:
        wrapper_cfg['type'] = CPU_WRAPPER
    return True
