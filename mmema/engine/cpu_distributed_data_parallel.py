# Copyright (c) mmema contributors. All rights reserved.
"""DistributedDataParallel wrapper that also takes a model on the CPU."""
from typing import List, Optional

import torch.nn as nn
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS


@MODEL_WRAPPERS.register_module()
class CPUDistributedDataParallel(MMDistributedDataParallel):
    """``MMDistributedDataParallel`` for CPU models as well (gloo backend).

    mmengine's ``Runner.wrap_model`` always passes
    ``device_ids=[LOCAL_RANK]``; PyTorch's DDP rejects ``device_ids`` for a
    module whose parameters live on the CPU. This wrapper drops them for
    such a module and behaves exactly like ``MMDistributedDataParallel``
    for a module on an accelerator.

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
        super().__init__(
            module=module,
            device_ids=None if on_cpu else device_ids,
            **kwargs)
