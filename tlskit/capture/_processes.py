"""Worker processes for loading: how to start them, and how they treat Ctrl-C.

Shared by :mod:`tlskit.capture._many` (one capture per worker) and
:mod:`tlskit.capture._split` (one capture, its connections shared out among workers).
"""

from __future__ import annotations

import multiprocessing
import signal


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


__all__ = ["ignore_sigint", "start_method"]
