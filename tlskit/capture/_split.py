"""One capture on several cores: ``tlskit.load(path, workers=N)``.

Every worker reads the whole file but keeps only the TCP flows of its share (a sum of the
4-tuple's bytes, the same in both directions: :func:`tlskit.capture._native._engine.share_of`),
so each connection is read by exactly one worker, in order, by the same state machine as a
single reader; the tables are the ones ``workers=1`` makes. Skipping another worker's packet
costs a dictionary lookup and a sum: reading the file N times is cheap next to the
per-connection work (docs/PERFORMANCE.md). The parts are then merged: connections sorted by
first frame get their conn_id, messages and certificates follow their connection.

The calling process reads share 0 (and drives the progress bar) while N-1 pool processes read
the others. Ctrl-C or a kernel interrupt terminates the pool (workers ignore SIGINT) and
nothing is written anywhere.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tlskit.capture._builder import Tables, paused_gc
from tlskit.capture._processes import Said, each_once, worker_pool
from tlskit.schema import CERTIFICATES, CONNECTIONS, MESSAGES, Table, check, int_array


@dataclass
class Part:
    """What one worker read: its tables and the engine's file-level findings."""

    tables: Tables
    notes: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    packets: int = 0
    warnings: Said = field(default_factory=list)


def read_share(path: Path, keylog: Path | None, share: tuple[int, int],
               progress: Callable[[int, int], None] | None = None) -> Part:
    """Worker ``share[0]`` of ``share[1]``: its flows of the capture, read by the native engine."""
    from tlskit.capture._native import NativeEngine

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        engine = NativeEngine(path, keylog, progress=progress, share=share)
        tables = engine.tables()
    return Part(tables, engine.notes, engine.skipped, engine.packets,
                [(w.category, str(w.message)) for w in caught])


def _pool_job(path: str, keylog: str | None, share: tuple[int, int]) -> Part:
    with paused_gc():  # as in load()
        return read_share(Path(path), Path(keylog) if keylog else None, share)


def read_split(path: Path, keylog: Path | None, workers: int, method: str,
               progress: Callable[[int, int], None] | None = None) -> tuple[Tables, Part]:
    """The capture's tables read by `workers` processes (this one included), merged; the second
    item carries the file-level notes, skip counts and packet count (the same in every share),
    and the warnings of the other workers (re-emitted by the caller)."""
    with worker_pool(method, workers - 1) as pool:  # Ctrl-C, or a worker failed: no process outlives the load
        pending = [pool.apply_async(_pool_job, (str(path), str(keylog) if keylog else None, (k, workers)))
                   for k in range(1, workers)]
        own = read_share(path, keylog, (0, workers), progress)
        parts = [own] + [job.get() for job in pending]
    for category, message in each_once(part.warnings for part in parts):
        warnings.warn(message, category, stacklevel=2)
    tables = merge([part.tables for part in parts])
    for part in parts:
        part.tables = ()  # type: ignore[assignment]  # the merged frames are the only copy kept
    return tables, own


def merge(parts: list[Tables]) -> Tables:
    """Tables of disjoint sets of connections of one capture, as one read would make them:
    conn_id in order of first frame, each connection's messages and certificates in their order.

    The parts' frames are consumed: each column is dropped from them once merged, so the
    merge holds about one copy of the tables, not three (parts, concatenation, reordering)."""
    if len(parts) == 1:
        return parts[0]
    conns = [p[1] for p in parts]
    offsets = np.cumsum([0] + [len(f) for f in conns[:-1]])  # a part's conn_id -> its row in the concatenation
    first = np.concatenate([f["first_frame"].to_numpy(dtype=np.int64) for f in conns])
    order = np.argsort(first, kind="stable")  # (frames are unique to one flow: no ties between parts)
    new_id = np.empty(len(order), dtype=np.int64)
    new_id[order] = np.arange(len(order))

    def follow(frames: list[pd.DataFrame], table: Table) -> pd.DataFrame:
        ids = np.concatenate([offsets[k] + f["conn_id"].to_numpy(dtype=np.int64) for k, f in enumerate(frames)])
        ids = new_id[ids]
        rows = np.argsort(ids, kind="stable")  # a connection's rows come from one part, in order
        frame = _taken(frames, table, rows)
        frame["conn_id"] = int_array(ids[rows], "UInt32")
        return check(frame, table)

    messages = follow([p[0] for p in parts], MESSAGES)
    connections = _taken(conns, CONNECTIONS, order)
    connections["conn_id"] = int_array(np.arange(len(order)), "UInt32")
    certificates = follow([p[2] for p in parts], CERTIFICATES)
    return messages, check(connections, CONNECTIONS), certificates


def _taken(frames: list[pd.DataFrame], table: Table, rows: np.ndarray) -> pd.DataFrame:
    """The frames one after the other, rows in `rows` order, a column at a time (each column is
    deleted from the parts as soon as it is merged)."""
    full = [f for f in frames if len(f)] or frames[:1]  # empty parts left out (pandas may change dtypes for them)
    out: dict[str, object] = {}
    for name in table.names:
        column = pd.concat([f[name] for f in full], ignore_index=True) if len(full) > 1 else full[0][name]
        out[name] = column.array.take(rows)
        del column
        for f in frames:
            del f[name]
    return pd.DataFrame(out)


__all__ = ["Part", "merge", "read_share", "read_split"]
