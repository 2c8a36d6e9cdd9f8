"""A capture of any size to Parquet in bounded memory: :func:`export_parquet`.

``load`` holds the tables in memory (about 2.7 KB per TLS connection). Here the table builder
streams instead: every :data:`CHUNK_ROWS` finished connections it hands its rows to
:func:`_read_share`, which writes them to a temporary directory as Parquet and forgets them
(:meth:`tlskit.capture._builder.TableBuilder.flush`). Chunks carry a provisional conn_id (the
order connections were opened); only each row's first frame and provisional id stay in memory
(16 bytes a connection), plus the trailing packets of rows already written (a last ACK after
both FINs moves a row's end time). The last step gives every connection the conn_id ``load``
gives it (order of first frame) and appends each chunk, renumbered and amended, to the final
files. Memory follows the connections open at once and the chunk size, not the capture.

``workers=N`` reads N shares of the connections at once in N processes (as ``load(workers=N)``
does, :func:`tlskit.capture._native._engine.share_of`), each streaming its own chunks.

The result has the layout of ``Capture.to_parquet`` (messages / connections / certificates
``.parquet`` and ``capture.json``), read back whole by ``tlskit.read_parquet`` (equal to what
``load`` returns) or in parts by any Parquet reader; rows are ordered by conn_id within each
chunk's row group. Files appear whole or not at all: an interrupted export (Ctrl-C, a kernel
interrupt) leaves no partial file and no worker process.
"""

from __future__ import annotations

import shutil
import uuid
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tlskit.capture._builder import TableBuilder, paused_gc
from tlskit.capture._native import open_capture
from tlskit.capture._native._engine import CLOSED_KEPT
from tlskit.capture._parquet import MARKER, TABLE_NAMES, write_json, write_table
from tlskit.capture._processes import Said, each_once, worker_pool
from tlskit.errors import CaptureError, CaptureWarning
from tlskit.schema import TABLES

CHUNK_ROWS = 1 << 12  # connection rows per chunk: about 12 MB of tables at a flush
# Newest rows kept back at a flush: the engine reports a closed connection's last packets (the
# final ACK) until CLOSED_KEPT newer connections closed, so older rows are final; what still
# comes for a written row is applied when the files are renumbered (TableBuilder.amended).
HOLD = CLOSED_KEPT


@dataclass
class _Share:
    """What one share's pass wrote (chunks under the temporary directory) and what renumbering needs."""

    k: int
    chunks: list[int] = field(default_factory=list)  # connection rows in each chunk, in order
    first_frames: list[np.ndarray] = field(default_factory=list)  # per chunk, per row
    provisional: list[np.ndarray] = field(default_factory=list)  # per chunk, per row: the open() order
    opened: int = 0
    amended: dict[int, list[float]] = field(default_factory=dict)  # row position -> [end_time, retransmissions]
    summary: Any = None
    notes: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    packets: int = 0
    warnings: Said = field(default_factory=list)


def _give_back() -> None:
    """Return the memory Arrow's allocator keeps for reuse to the system (mimalloc holds on to
    freed pages; over many chunks that, not the tables, would set the peak)."""
    pa.default_memory_pool().release_unused()


def _read_share(path: str, keylog: str | None, k: int, shares: int, tmp: str, chunk_rows: int,
                progress: Callable[[int, int], None] | None = None) -> _Share:
    """Share k of `shares`: read the capture, writing chunks tmp/{k}.{chunk}.{table}.parquet."""
    from tlskit.capture import Summary
    from tlskit.capture._native import NativeEngine

    share = _Share(k, summary=Summary())

    def spill(tables: tuple[Any, Any, Any]) -> None:
        chunk = len(share.chunks)
        for name, frame in zip(TABLE_NAMES, tables, strict=True):
            write_table(frame, TABLES[name], Path(tmp) / f"{k}.{chunk}.{name}.parquet")
        connections = tables[1]
        share.chunks.append(len(connections))
        share.first_frames.append(connections["first_frame"].to_numpy(dtype=np.int64))
        share.provisional.append(connections["conn_id"].to_numpy(dtype=np.int64))
        share.summary += Summary.of(connections)
        _give_back()

    with paused_gc(), warnings.catch_warnings(record=True) as caught:  # (gc: as in load())
        warnings.simplefilter("always")
        builder = TableBuilder(spill=spill, spill_rows=chunk_rows, hold=HOLD)
        engine = NativeEngine(path, keylog, progress=progress, share=(k, shares))
        engine.run(builder)
        spill(builder.flush())  # the rest (an empty chunk still gives every file its schema)
    share.opened, share.amended = builder.opened, builder.amended
    share.notes, share.skipped, share.packets = engine.notes, engine.skipped, engine.packets
    share.warnings = [(w.category, str(w.message)) for w in caught]
    return share


def _pool_job(args: tuple[str, str | None, int, int, str, int]) -> _Share:
    return _read_share(*args)


def export_parquet(path: str | Path, out: str | Path, *, keylog: str | Path | None = None, workers: int | None = 1,
                   progress: bool | None = None, chunk_rows: int = CHUNK_ROWS) -> Path:
    """Read a capture into Parquet files under ``out``, never holding its tables in memory.

    Parameters
    ----------
    path
        pcap or pcapng file, optionally gzip-compressed; with ``workers`` > 1 a regular file
        (each worker reads it).
    out
        Directory for messages.parquet, connections.parquet, certificates.parquet and
        capture.json (created if missing; files of those names are replaced whole).
    keylog
        SSLKEYLOGFILE-format key log, as for :func:`tlskit.load`.
    workers
        Processes reading the capture, each a share of its connections (None: one per core).
    progress
        A progress bar over bytes read; None: for big files in a notebook or terminal.
    chunk_rows
        Connection rows held before they are written out.

    Returns
    -------
    Path
        ``out``. ``tlskit.read_parquet(out)`` gives the tables ``tlskit.load`` makes.

    Raises
    ------
    CaptureError
        The file is missing, empty, or not a capture.
    KeylogError
        The key log is missing or holds no usable secret.
    """
    from tlskit.capture import Summary, _progress_bar, _workers, findings

    p, target = Path(path), Path(out)
    kl = Path(keylog) if keylog is not None else None
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, not {chunk_rows!r}")
    if kl is not None:
        from tlskit.tls.keylog import read_keylog

        read_keylog(kl)  # fail early, naming the key log, before reading a large capture
    count, method = _workers(workers, "native", p)  # before the progress bar starts its thread
    if p.is_file() or not p.exists():
        open_capture(p).close()  # a missing or non-capture file fails here, before out/ is touched
    created = not target.exists()
    try:
        target.mkdir(parents=True, exist_ok=True)
        (target / MARKER).unlink(missing_ok=True)  # incomplete until rewritten at the end
        (target / "diagnosis.parquet").unlink(missing_ok=True)  # an earlier to_parquet's, of other tables
        tmp = target / f".tmp-export-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
    except OSError as exc:
        raise CaptureError(f"cannot write the export ({exc.strerror})", path=target,
                           fix="choose a writable directory for out=") from None
    update, bar = _progress_bar(p, progress)
    try:
        done = _read_shares(p, kl, count, method, tmp, chunk_rows, update)
        connections = _renumber_and_write(done, tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if created and not any(target.iterdir()):
            target.rmdir()  # nothing of a failed export stays behind
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if bar is not None:
            bar.close()
    said: list[str] = []
    for category, message in each_once(share.warnings for share in done):
        if issubclass(category, CaptureWarning):
            said.append(message)  # said below with the load's own remarks, and kept in capture.json
        else:
            warnings.warn(message, category, stacklevel=2)
    summary = sum((share.summary for share in done), Summary())
    said += findings(p, kl, done[0], summary, said=said)
    for message in said:
        warnings.warn(CaptureWarning(message), stacklevel=2)
    write_json({"path": str(p), "engine": "native", "keylog": str(kl) if kl else None, "warnings": said,
                "tables": list(TABLE_NAMES), "ordered": False, "connections": connections}, target / MARKER)
    return target


def _read_shares(path: Path, keylog: Path | None, count: int, method: str, tmp: Path, chunk_rows: int,
                 update: Callable[[int, int], None] | None) -> list[_Share]:
    """Every share's pass: here when there is one, else in a pool (this process shows progress
    by shares done). Results in share order."""
    args = [(str(path), str(keylog) if keylog else None, k, count, str(tmp), chunk_rows) for k in range(count)]
    if count == 1:
        return [_read_share(*args[0], progress=update)]
    size = path.stat().st_size
    done: list[_Share] = []
    with worker_pool(method, count) as pool:  # Ctrl-C, or a share failed: no process outlives the export
        for share in pool.imap_unordered(_pool_job, args):
            done.append(share)
            if update is not None:
                update(size * len(done) // count, size)
    return sorted(done, key=lambda s: s.k)


def _renumber_and_write(done: list[_Share], tmp: Path, target: Path) -> int:
    """Give each connection its conn_id (order of first frame, ties in open order, as
    TableBuilder.tables numbers them), apply the trailing packets of rows written early, and
    append every chunk to the final files (one chunk in memory at a time): written under a
    temporary name, then renamed into place. Returns the number of connections."""
    first = np.concatenate([f for share in done for f in share.first_frames])
    provisional = np.concatenate([p for share in done for p in share.provisional])
    order = np.lexsort((provisional, first))  # a frame belongs to one flow: no ties between shares
    rank = np.empty(len(first), dtype=np.int64)
    rank[order] = np.arange(len(first))
    conn_ids: list[np.ndarray] = []  # per share: open() order -> conn_id
    row = 0
    for share in done:
        ids = np.full(share.opened, -1, dtype=np.int64)
        for provisional_ids in share.provisional:
            ids[provisional_ids] = rank[row:row + len(provisional_ids)]
            row += len(provisional_ids)
        conn_ids.append(ids)
    for name in TABLE_NAMES:
        part = tmp / f"{name}.parquet"
        writer: pq.ParquetWriter | None = None
        try:
            for share, ids in zip(done, conn_ids, strict=True):
                position = 0  # of the chunk's first connection row in the share's finish order
                for chunk, rows in enumerate(share.chunks):
                    source = tmp / f"{share.k}.{chunk}.{name}.parquet"
                    table = pq.ParquetFile(source).read(use_threads=False)
                    if name == "connections" and share.amended:
                        table = _amend(table, share.amended, position)
                    new = ids[table.column("conn_id").to_numpy(zero_copy_only=False).astype(np.int64)]
                    table = table.set_column(table.schema.get_field_index("conn_id"), "conn_id",
                                             pa.array(new, pa.uint32()))
                    table = table.take(pa.array(np.argsort(new, kind="stable")))  # a connection's rows keep their order
                    if writer is None:
                        writer = pq.ParquetWriter(part, table.schema)
                    writer.write_table(table)
                    del table
                    source.unlink()
                    _give_back()
                    position += rows
        finally:
            if writer is not None:
                writer.close()
        part.replace(target / f"{name}.parquet")
    return len(first)


def _amend(table: pa.Table, amended: dict[int, list[float]], position: int) -> pa.Table:
    """Trailing packets of this chunk's rows (positions position.. in finish order) that came
    after it was written: a later end_time, more retransmissions (as TableBuilder.late does)."""
    n = table.num_rows
    here = [(p - position, change) for p, change in amended.items() if position <= p < position + n]
    if not here:
        return table
    end = table.column("end_time").cast(pa.int64()).to_numpy(zero_copy_only=False).copy()  # ns, NaT: min int64
    retrans = table.column("retransmissions").to_numpy(zero_copy_only=False).astype(np.int64)
    nat = np.iinfo(np.int64).min
    for i, (time, count) in here:
        if not abs(time) < 9.2e9:  # a damaged timestamp: utc_array makes it NaT when it is the maximum
            if time > 0:
                end[i] = nat
        elif end[i] != nat:
            end[i] = max(end[i], round(time * 1e6) * 1000)  # µs, as utc_array rounds
        retrans[i] += int(count)
    end_type = table.schema.field("end_time").type
    table = table.set_column(table.schema.get_field_index("end_time"), "end_time",
                             pa.array(end, pa.int64(), mask=end == nat).cast(end_type))
    return table.set_column(table.schema.get_field_index("retransmissions"), "retransmissions",
                            pa.array(retrans, table.schema.field("retransmissions").type))


__all__ = ["CHUNK_ROWS", "export_parquet"]
