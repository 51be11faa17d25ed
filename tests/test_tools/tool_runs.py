# Copyright (c) mmema contributors. All rights reserved.
"""What the tool tests share: running a tool as a user would, a hook that
crashes a run, checkpoint digests and a free port for torchrun."""
import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import List

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 600

CRASH_HOOK = '''
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class CrashAtIter(Hook):
    """Kill the run after the given (0-based) training iteration."""

    def __init__(self, iteration):
        self.iteration = iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter == self.iteration:
            raise RuntimeError(f'simulated crash at iteration {runner.iter}')
'''



def crash_config(iteration: int, base_hooks: bool = False) -> str:
    """A config that is ``./tiny.py`` crashing after ``iteration``.

    Args:
        iteration (int): 0-based training iteration to crash after.
        base_hooks (bool): Keep ``tiny.py``'s custom hooks (mmyolo's model
            EMA, ...) before the crash hook. Defaults to False.

    Returns:
        str: The config's text.
    """
    hooks = '*_base_.custom_hooks, ' if base_hooks else ''
    return f"""
_base_ = './tiny.py'
custom_imports = dict(imports=['mmema', 'crash_hook'],
                      allow_failed_imports=False)
custom_hooks = [{hooks}dict(type='CrashAtIter', iteration={iteration})]
"""


def run(args: List[str], tmp: Path, **env: str) -> subprocess.CompletedProcess:
    """Run a tool from the repository root, one thread, no GPU, with ``tmp``
    (hooks, configs) importable."""
    proc = subprocess.run(
        args,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=dict(os.environ, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='',
                 PYTHONPATH=os.pathsep.join([str(REPO), str(tmp)]), **env))
    proc.output = proc.stdout + proc.stderr
    return proc


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def crash_then_resume(tmp: Path, options: List[str]) -> dict:
    """Train ``tmp/tiny_crash.py`` until it crashes, then ``--resume``
    ``tmp/tiny.py`` in the same work dir.

    Args:
        tmp (Path): Folder with ``tiny.py``, ``tiny_crash.py`` (see
            :func:`crash_config`) and ``crash_hook.py``.
        options (list[str]): Options of both runs, e.g. ``--cfg-options``.

    Returns:
        dict: Both runs, what the crash left and the work dir.
    """
    work_dir = tmp / 'work_dir'
    train = [sys.executable, 'tools/train.py']
    crashed = run(
        train + [str(tmp / 'tiny_crash.py'), '--work-dir',
                 str(work_dir)] + options, tmp)
    epoch_1 = work_dir / 'epoch_1.pth'
    state = dict(
        crashed=crashed,
        epoch_1_exists=epoch_1.is_file(),
        epoch_2_exists_after_crash=(work_dir / 'epoch_2.pth').exists(),
        epoch_1_sha=sha256(epoch_1) if epoch_1.is_file() else None)
    state['resumed'] = run(
        train +
        [str(tmp / 'tiny.py'), '--work-dir',
         str(work_dir), '--resume'] + options, tmp)
    state['work_dir'] = work_dir
    return state
