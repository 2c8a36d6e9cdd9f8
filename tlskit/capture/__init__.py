"""Capture file -> tables: :func:`load` and the :class:`Capture` it returns.

    >>> cap = tlskit.load("incident.pcapng", keylog="sslkeys.log")
    >>> cap.connections[["sni", "version_name", "established", "alert_name"]]

Two engines fill the same tables (:mod:`tlskit.schema`): ``"native"`` (tlskit's own
streaming reader, the default) and ``"tshark"`` (Wireshark's dissectors, the reference).
Both feed the one table builder (:mod:`tlskit.capture._builder`: the native engine calls it
directly, the tshark engine through event objects), so nothing downstream knows which one ran.

Bigger captures: ``load(path, workers=N)`` shares one capture's connections among processes
(:mod:`tlskit.capture._split`); :func:`export_parquet` streams a capture of any size to
Parquet in flat memory (:mod:`tlskit.capture._export`), :func:`read_parquet` reads it back;
:func:`load_many` reads many captures (:mod:`tlskit.capture._many`).
"""

from __future__ import annotations

import html
import os
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from tlskit.capture._builder import Tables, build_tables, paused_gc
from tlskit.capture._processes import start_method
from tlskit.errors import CaptureWarning, NotFoundError

ENGINES = ("native", "tshark")
AUTO_PROGRESS_BYTES = 64 << 20  # files above this show a progress bar when progress=None


@dataclass(frozen=True)
class Connection:
    """One connection's row with its messages and certificates (``Capture.connection(id)``)."""

    conn_id: int
    row: pd.Series
    messages: pd.DataFrame
    certificates: pd.DataFrame

    def _repr_html_(self) -> str:
        r = self.row
        head = (f"<b>conn {self.conn_id}</b>: {html.escape(str(r['client_ip']))}:{r['client_port']} → "
                f"{html.escape(str(r['server_ip']))}:{r['server_port']} "
                f"sni={html.escape(str(r['sni']))} {html.escape(str(r['version_name']))} "
                f"established={r['established']} alert={html.escape(str(r['alert_name']))}")
        cols = ["seq", "frame", "direction", "content_type_name", "handshake_type_name",
                "alert_description_name", "encrypted", "length"]
        return f"<div>{head}</div>" + self.messages[cols].to_html(index=False)


@dataclass
class Capture:
    """The tables read from one capture file.

    Attributes
    ----------
    path : Path
        The capture file.
    messages, connections, certificates : DataFrame
        See :data:`tlskit.schema.MESSAGES`, :data:`~tlskit.schema.CONNECTIONS` and
        :data:`~tlskit.schema.CERTIFICATES` for every column's meaning.
    engine : str
        ``"native"`` or ``"tshark"``.
    warnings : list of str
        What could not be read (truncation, skipped fragments, DTLS / QUIC not analysed, no TLS found...).
    keylog : Path or None
        The key log used (its path only; secrets are never kept).
    """

    path: Path
    messages: pd.DataFrame
    connections: pd.DataFrame
    certificates: pd.DataFrame
    engine: str = "native"
    warnings: list[str] = field(default_factory=list)
    keylog: Path | None = None

    def connection(self, conn_id: int) -> Connection:
        """The row, messages and certificates of one connection.

        Raises
        ------
        NotFoundError
            No connection has this ``conn_id`` (a :class:`KeyError` too).
        """
        rows = self.connections[self.connections["conn_id"] == conn_id]
        if rows.empty:
            ids = self.connections["conn_id"]
            known = f"conn_id runs {ids.min()}..{ids.max()}" if len(ids) else "it holds no TLS connection"
            raise NotFoundError(f"no connection {conn_id} in {self.path.name} ({known})",
                                fix="pick a conn_id from capture.connections")
        m = self.messages[self.messages["conn_id"] == conn_id].reset_index(drop=True)
        c = self.certificates[self.certificates["conn_id"] == conn_id].reset_index(drop=True)
        return Connection(conn_id, rows.iloc[0], m, c)

    def packet(self, frame: int) -> Any:
        """Wireshark's full field tree of one frame (pyshark), for drill-down."""
        from tlskit.capture._tshark import packet_tree

        return packet_tree(self.path, frame, self.keylog)

    def to_parquet(self, directory: str | Path) -> Path:
        """Write the three tables as Parquet files under ``directory``; returns it."""
        from tlskit.capture._parquet import to_parquet

        return Path(to_parquet(self, directory))

    def __repr__(self) -> str:
        c = self.connections
        return (f"Capture({self.path.name!r}, engine={self.engine!r}, connections={len(c)}, "
                f"established={int(c['established'].fillna(False).sum())}, messages={len(self.messages)}, "
                f"certificates={len(self.certificates)}, warnings={len(self.warnings)})")

    def _repr_html_(self) -> str:
        c = self.connections
        failed = c[~c["established"].fillna(False)]
        parts = [
            f"<b>{html.escape(self.path.name)}</b> ({self.engine} engine"
            + (", key log" if self.keylog else "") + ")",
            f"{len(c)} TLS connection(s), {len(c) - len(failed)} established, {len(failed)} not",
        ]
        if self.warnings:
            items = "".join(f"<li>{html.escape(w)}</li>" for w in self.warnings[:10])
            parts.append(f"<details><summary>{len(self.warnings)} warning(s)</summary><ul>{items}</ul></details>")
        cols = ["conn_id", "client_ip", "server_ip", "server_port", "sni", "version_name",
                "cipher_suite_name", "established", "alert_name", "alert_from"]
        table = c[cols].head(20).to_html(index=False, na_rep="")
        return "<div>" + "<br>".join(parts) + "</div>" + table


def _progress_bar(path: Path, progress: bool | None) -> tuple[Callable[[int, int], None] | None, Any]:
    size = path.stat().st_size if path.is_file() else 0
    if progress is None:
        interactive = "ipykernel" in sys.modules or sys.stderr.isatty()
        progress = interactive and size > AUTO_PROGRESS_BYTES
    if not progress:
        return None, None
    from tqdm.auto import tqdm

    bar = tqdm(total=size, unit="B", unit_scale=True, desc=path.name, leave=False)

    def update(done: int, total: int) -> None:
        bar.update(max(0, done - bar.n))

    return update, bar


def _read_tables(path: Path, keylog: Path | None, engine: str,
                 progress: Callable[[int, int], None] | None, workers: int = 1,
                 method: str = "fork") -> tuple[Tables, Any]:
    """(messages, connections, certificates) and the engine that read them (for its notes)."""
    if engine == "native" and workers > 1:
        from tlskit.capture._split import read_split

        return read_split(path, keylog, workers, method, progress)
    if engine == "native":
        from tlskit.capture._native import NativeEngine

        native = NativeEngine(path, keylog, progress=progress)
        return native.tables(), native  # the engine drives the builder directly
    if engine == "tshark":
        from tlskit.capture._tshark import TsharkEngine

        ts = TsharkEngine(path, keylog)
        return build_tables(ts.events(), path=str(path)), ts
    raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")


@dataclass(frozen=True)
class Summary:
    """What the load's closing remarks need to know about its connections table."""

    connections: int = 0
    tls13_hidden: int = 0  # TLS 1.3 handshakes a key log did not decrypt
    decrypted: bool = False

    @classmethod
    def of(cls, connections: pd.DataFrame) -> Summary:
        if connections.empty:
            return cls()
        decrypted = connections["decrypted"].fillna(False)
        tls13 = (connections["version"] == 0x0304).fillna(False)
        return cls(len(connections), int((tls13 & ~decrypted).sum()), bool(decrypted.any()))

    def __add__(self, other: Summary) -> Summary:
        return Summary(self.connections + other.connections, self.tls13_hidden + other.tls13_hidden,
                       self.decrypted or other.decrypted)


def findings(path: Path, keylog: Path | None, engine: Any, summary: Summary, said: list[str]) -> list[str]:
    """The remarks a load adds to what was said while reading (`said`): the engine's file-level
    notes, DTLS/QUIC not analysed, no TLS found, a key log that matches nothing."""
    out: list[str] = []
    udp, keys = _not_analysed(getattr(engine, "skipped", None) or {})
    # said once below, in a sentence, instead of the engine's "N packet(s) skipped: ..." notes
    notes = [n for n in getattr(engine, "notes", []) if not any(key in n for key in keys)]
    out.extend(f"{path}: {n}" for n in notes if not any(n in s for s in said))
    if udp and not summary.connections:
        out.append(f"{path}: {udp} and 0 TLS connections: tlskit reads TLS over TCP only "
                   "(DTLS and QUIC are not analysed)")
    elif udp:
        out.append(f"{path}: {udp} not analysed (tlskit reads TLS over TCP only); "
                   f"the {summary.connections} TLS connection(s) are in the tables")
    elif not summary.connections:
        packets = getattr(engine, "packets", None)
        out.append(f"{path}: no TLS connection found" + (f" in {packets} packet(s)" if packets is not None else "")
                   + "; check that the capture was taken on the right interface/port and covers the handshake")
    if keylog is not None and summary.tls13_hidden and not summary.decrypted:
        # A key log from another client or run decrypts nothing: say so, or diagnose would ask
        # for the key log the user already gave.
        out.append(f"{keylog}: none of its secrets matches the {summary.tls13_hidden} TLS 1.3 handshake(s) in "
                   f"{path.name}; a key log from another client or another run? (the client random must match)")
    return out


def _not_analysed(skipped: Mapping[str, int]) -> tuple[str, tuple[str, ...]]:
    """('12 DTLS packet(s)', its counter keys) from an engine's skipped counter; ('', ()) when none."""
    from tlskit.capture._native._packet import DTLS_SKIPPED, QUIC_SKIPPED

    # QUIC: long-header packets only, 1-RTT packets have no recognisable shape
    names = {DTLS_SKIPPED: "DTLS packet(s)", QUIC_SKIPPED: "QUIC handshake packet(s)"}
    found = tuple(key for key in names if skipped.get(key))
    return ", ".join(f"{skipped[key]} {names[key]}" for key in found), found


def _workers(workers: int | None, engine: str, path: Path) -> tuple[int, str]:
    """The number of processes to read `path` with (see load), and how to start them: call it
    before a progress bar starts its thread (start_method looks at the threads)."""
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer or None (one per core), not {workers!r}")
    if workers > 1 and engine != "native":
        raise ValueError(f"workers={workers} needs engine='native' (the tshark engine reads a file in one process)")
    if workers > 1 and not path.is_file():
        workers = 1  # a pipe (or a missing file: reported as such by the reader)
    return workers, start_method() if workers > 1 else "fork"


def load(path: str | Path, *, keylog: str | Path | None = None, engine: str = "native",
         progress: bool | None = None, workers: int | None = 1) -> Capture:
    """Read a capture file into the messages / connections / certificates tables.

    Parameters
    ----------
    path
        pcap or pcapng file, optionally gzip-compressed (recognised by content).
    keylog
        SSLKEYLOGFILE-format key log: TLS 1.3 handshakes (certificates, encrypted alerts)
        become visible. Secrets embedded in a pcapng are used as well.
    engine
        ``"native"`` (default, no tshark needed) or ``"tshark"``.
    progress
        Show a progress bar over bytes read; None: only for big files in a notebook or terminal.
    workers
        Processes reading the capture (native engine): each reads the whole file and keeps its
        share of the TCP connections, and the tables are the same as with one. None: one per
        CPU core. Worth it for captures of many connections (hundreds of MB); memory grows
        while the parts are merged. A pipe can be read only once, so it gets one worker.

    Returns
    -------
    Capture
        ``.messages``, ``.connections``, ``.certificates`` (columns in :mod:`tlskit.schema`),
        ``.warnings``.

    Raises
    ------
    CaptureError
        The file is missing, a directory, empty, or not a capture (the message says what to do).
    KeylogError
        The key log is missing or holds no usable secret.
    """
    p = Path(path)
    kl = Path(keylog) if keylog is not None else None
    workers, method = _workers(workers, engine, p)  # before the progress bar starts its thread
    if kl is not None:
        from tlskit.tls.keylog import read_keylog

        read_keylog(kl)  # fail early, naming the key log, before reading a large capture
    update, bar = _progress_bar(p, progress)
    try:
        with paused_gc(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CaptureWarning)
            (messages, connections, certificates), eng = _read_tables(p, kl, engine, update, workers, method)
    finally:
        if bar is not None:
            bar.close()
    seen: list[str] = []
    for w in caught:
        if issubclass(w.category, CaptureWarning):
            seen.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    seen += findings(p, kl, eng, Summary.of(connections), said=seen)
    for message in seen:
        warnings.warn(CaptureWarning(message), stacklevel=2)
    return Capture(p, messages, connections, certificates, engine=engine, warnings=seen, keylog=kl)


def load_many(paths: str | Path | Iterable[str | Path], **options: Any) -> Any:
    """Load many captures in parallel (process pool or Dask) and concatenate their tables.

    See :func:`tlskit.capture._many.load_many` for the options (workers, keylog, client, out,
    diagnose, errors) and the returned ``Captures``.
    """
    from tlskit.capture._many import load_many as _load_many

    return _load_many(paths, **options)


def export_parquet(path: str | Path, out: str | Path, **options: Any) -> Path:
    """Read a capture of any size into Parquet under ``out`` in bounded memory (share by share).

    See :func:`tlskit.capture._export.export_parquet` for the options (keylog, shares, workers,
    progress); :func:`read_parquet` reads the result back.
    """
    from tlskit.capture._export import export_parquet as _export

    return _export(path, out, **options)


def read_parquet(directory: str | Path) -> Capture:
    """The Capture written under ``directory`` by :meth:`Capture.to_parquet` or :func:`export_parquet`.

    Raises
    ------
    CaptureError
        ``directory`` holds no complete tlskit export, or the tables of several captures
        (a load_many export: read those with pandas or pyarrow).
    """
    from tlskit.capture._parquet import MARKER
    from tlskit.capture._parquet import read_parquet as _read
    from tlskit.errors import CaptureError

    d = Path(directory)
    try:
        tables = _read(d)
    except FileNotFoundError:
        raise CaptureError(f"no {MARKER}: not a complete tlskit Parquet export", path=d,
                           fix="export again (an interrupted export leaves no capture.json)") from None
    if "capture" in tables["connections"].columns:
        raise CaptureError("the tables of several captures (a load_many export)", path=d,
                           fix="read them with pandas.read_parquet or tlskit.load_many's result")
    meta = tables["meta"]
    return Capture(Path(meta.get("path") or d), tables["messages"], tables["connections"], tables["certificates"],
                   engine=meta.get("engine") or "native", warnings=list(meta.get("warnings") or []),
                   keylog=Path(meta["keylog"]) if meta.get("keylog") else None)


__all__ = ["ENGINES", "Capture", "Connection", "export_parquet", "load", "load_many", "read_parquet"]
