# Copyright (c) mmema contributors. All rights reserved.
"""DistributedDataParallel wrapper that also takes a model on the CPU."""
from typing import List, Optional

import torch.nn as nn
from mmengine.logging import print_log
from mmengine.model import MMDistributedDataParallel, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS


def _count_sync_bn(module: nn.Module) -> int:
    """SyncBN layers of torch and of mmcv's ops, as mmengine reverts them."""
    return sum(type(m).__name__ == 'SyncBatchNorm' for m in module.modules())


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for CPU models as well (gloo backend).

    mmengine's ``Runner.wrap_model`` always passes
    ``device_ids=[LOCAL_RANK]``; PyTorch's DDP rejects ``device_ids`` for a
    module whose parameters live on the CPU. This wrapper drops them for
    such a module, and turns its SyncBN layers back into BN: SyncBN runs on
    GPUs only, and upstream recipes bring it in (``norm_cfg=SyncBN``,
    ``cfg.sync_bn``, mmyolo's ``YOLODetector`` in every multi-process run),
    so each CPU process normalises its own batch, as without SyncBN. For a
    module on an accelerator it behaves exactly like
    ``MMDistributedDataParallel``.

    Args:
        module (nn.Module): Model to wrap.
        device_ids (list[int], optional): Devices of a module on an
            accelerator. Ignored for a CPU module. Defaults to None.
        **kwargs: Passed to ``MMDistributedDataParallel``.
    """

    def __init__(self,
                 module: nn.Module,
                 device_ids: Optional[List[int]] = None,
                 **kwargs) -> None:
        on_cpu = all(p.device.type == 'cpu' for p in module.parameters())
        if on_cpu:
            num_sync_bn = _count_sync_bn(module)
            if num_sync_bn:
                module = revert_sync_batchnorm(module)
                print_log(
                    f'CPUDistributedDataParallel: {num_sync_bn} SyncBN '
                    'layers are BN in this CPU run (SyncBN needs GPUs); '
                    'each process normalises its own batch.', 'current')
        super().__init__(
            module=module,
            device_ids=None if on_cpu else device_ids,
            **kwargs)
