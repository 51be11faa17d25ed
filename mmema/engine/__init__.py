# Copyright (c) mmema contributors. All rights reserved.
from .checkpoint_safe_globals import (mmengine_checkpoint_globals,
                                      register_checkpoint_safe_globals)
from .cpu_distributed import setup_cpu_distributed
from .cpu_distributed_data_parallel import CPUDistributedDataParallel
from .run_setup import (add_cfg_options, add_run_args, build_runner,
                        load_config, load_run_config)
from .trained_model import build_model_from_config

# Importing mmema (``custom_imports``) lets every Runner resume and load
# mmengine checkpoints with weights-only unpickling (torch >= 2.6).
register_checkpoint_safe_globals()

__all__ = [
    'CPUDistributedDataParallel', 'add_cfg_options', 'add_run_args',
    'build_model_from_config', 'build_runner', 'load_config',
    'load_run_config',
    'mmengine_checkpoint_globals', 'register_checkpoint_safe_globals',
    'setup_cpu_distributed'
]
