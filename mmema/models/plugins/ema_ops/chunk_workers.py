# Copyright (c) mmema contributors. All rights reserved.
"""Run chunk loops in parallel without OpenMP barriers.

The chunked passes issue thousands of cache-sized ops. Parallelising each
op with OpenMP makes every op a barrier, and a barrier waits for the
slowest thread: when another process holds a core, a fwd+bwd slows down
by orders of magnitude. Instead, ops run single-threaded and the chunks are
shared among ``torch.get_num_threads()`` worker threads (ATen releases the
GIL inside each op), so a descheduled worker delays only its own chunks.
"""
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Callable, Iterator, List, Optional, Sequence, Tuple

import torch

ChunkRange = Tuple[int, int]

_lock = threading.Lock()
_pool: Optional[ThreadPoolExecutor] = None
_pool_key: Tuple[int, int] = (0, 0)  # (process id, workers)


def _single_threaded_worker(ready: threading.Barrier) -> None:
    """Pin a new worker's ATen ops to one thread, then wait for the rest."""
    torch.get_num_threads()  # binds this thread's setting before changing it
    torch.set_num_threads(1)
    ready.wait()


def worker_pool(workers: int) -> ThreadPoolExecutor:
    """The shared pool of ``workers`` threads with single-threaded ops.

    Recreated after a fork (threads do not survive it) or when the wanted
    size changes.

    Args:
        workers (int): Number of threads, at least 2.

    Returns:
        ThreadPoolExecutor: The pool.
    """
    global _pool, _pool_key
    key = (os.getpid(), workers)
    with _lock:
        if _pool is None or _pool_key != key:
            if _pool is not None and _pool_key[0] == key[0]:
                _pool.shutdown(wait=False)
            previous = torch.get_num_threads()
            pool = ThreadPoolExecutor(workers, thread_name_prefix='mmema-ema')
            ready = threading.Barrier(workers)
            for future in [
                    pool.submit(_single_threaded_worker, ready)
                    for _ in range(workers)
            ]:
                future.result()
            # Setting a worker's thread count also set the process default;
            # restore it for threads created later.
            torch.set_num_threads(previous)
            _pool, _pool_key = pool, key
        return _pool


@contextmanager
def single_threaded_ops() -> Iterator[int]:
    """Run the calling thread's ATen ops on one thread for a while.

    Yields:
        int: The thread count in force before, to be used for workers.
    """
    previous = torch.get_num_threads()
    if previous == 1:
        yield 1
        return
    torch.set_num_threads(1)
    try:
        yield previous
    finally:
        torch.set_num_threads(previous)


def split(ranges: Sequence[ChunkRange], parts: int) -> List[List[ChunkRange]]:
    """Split chunk ranges into ``parts`` contiguous runs of near-equal size.

    Args:
        ranges (Sequence[tuple]): ``(start, stop)`` of each chunk.
        parts (int): Number of runs.

    Returns:
        list[list[tuple]]: The non-empty runs.
    """
    size, extra = divmod(len(ranges), parts)
    runs, first = [], 0
    for part in range(parts):
        last = first + size + (part < extra)
        if last > first:
            runs.append(list(ranges[first:last]))
        first = last
    return runs


def for_each_chunk(ranges: Sequence[ChunkRange], workers: int,
                   body: Callable[[int, int, int], None]) -> None:
    """Call ``body(start, stop, worker)`` for every chunk.

    With ``workers > 1`` and several chunks, contiguous runs of chunks go to
    the pool and ``worker`` indexes the run (so each run can use its own
    scratch buffers); otherwise the calling thread runs all with
    ``worker == 0``. Autograd is off in the workers.

    Args:
        ranges (Sequence[tuple]): ``(start, stop)`` of each chunk.
        workers (int): Threads available.
        body (Callable): The per-chunk work.
    """
    runs = split(ranges, min(workers, len(ranges)))
    if len(runs) == 1:
        for start, stop in runs[0]:
            body(start, stop, 0)
        return

    def run(worker: int) -> None:
        with torch.no_grad():
            for start, stop in runs[worker]:
                body(start, stop, worker)

    pool = worker_pool(workers)
    for future in [pool.submit(run, worker) for worker in range(len(runs))]:
        future.result()
