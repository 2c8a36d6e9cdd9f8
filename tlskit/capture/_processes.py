"""Worker processes for loading: how to start them, and how they treat Ctrl-C.

Shared by :mod:`tlskit.capture._many` (one capture per worker) and
:mod:`tlskit.capture._split` (one capture, its connections shared out among workers).
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from multiprocessing.pool import Pool


def ignore_sigint() -> None:
    """Pool initializer. The parent alone handles Ctrl-C, then terminates the pool: workers
    must not die half-way on their own and leave the pool waiting for results that never come."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start_method() -> str:
    """fork when this process has no other thread (fast, and scripts need no __main__ guard);
    otherwise forkserver, since forking a threaded process (a notebook kernel) can deadlock."""
    import threading

    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


@contextmanager
def worker_pool(method: str, workers: int) -> Iterator[Pool]:
    """A process pool whose workers leave with the block: closed and joined when it ends,
    terminated (then joined) when it raises, Ctrl-C and a generator's close() included, so no
    process outlives the work.

    SIGINT is blocked while the pool starts. Its helper threads inherit that mask, so Ctrl-C
    always reaches the main thread (delivered to a helper thread, the signal waited unseen
    while the main thread ran Python code: a load that ignored Ctrl-C); and Pool() cleans up
    after an Exception but not after KeyboardInterrupt, so an interrupt while it forks would
    leave the started workers behind. A Ctrl-C that came meanwhile is raised once the pool is
    in hand, and it is terminated."""
    block = hasattr(signal, "pthread_sigmask")
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT}) if block else None
    try:
        pool = multiprocessing.get_context(method).Pool(workers, initializer=ignore_sigint)
    except BaseException:
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise
    try:
        if mask is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a pending Ctrl-C is raised here
        yield pool
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


Said = list[tuple[type[Warning], str]]  # warnings a worker recorded: (category, message)


def each_once(said: Iterable[Said]) -> Said:
    """The workers' warnings, each message once, in order: every worker reading a file says its
    file-level remarks (truncation, skipped packets) again."""
    seen: set[str] = set()
    out: Said = []
    for one in said:
        for category, message in one:
            if message not in seen:
                seen.add(message)
                out.append((category, message))
    return out


__all__ = ["Said", "each_once", "ignore_sigint", "start_method", "worker_pool"]
