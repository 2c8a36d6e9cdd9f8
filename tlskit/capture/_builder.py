"""Engine reports -> the `messages`, `connections` and `certificates` tables.

:class:`TableBuilder` is what an engine fills (:class:`tlskit.capture._events.Sink`): it
makes a :class:`tlskit.capture._connection.Connection` per TLS connection, which judges the
protocol, and stores each finished connection's rows in compact typed arrays until
:meth:`TableBuilder.tables` makes the frames in the schema's dtypes. :func:`build_tables`
drives the same builder from a stream of event objects (the tshark engine).
"""

from __future__ import annotations

import copy
import functools
import gc
import operator
import struct
from array import array
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

import numpy as np
import pandas as pd

from tlskit import registry
from tlskit.capture._connection import Connection
from tlskit.capture._events import Event, TlsUnit
from tlskit.schema import (
    CERTIFICATES,
    CONNECTIONS,
    MESSAGES,
    UTC_TIME,
    Column,
    check,
    conform,
    int_array,
    typed,
    utc_array,
)

Tables = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]  # messages, connections, certificates


@contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector off while a capture is read: millions of small objects and no
    reference cycles, so it would rescan them over and over (loads slow down super-linearly);
    one collection afterwards instead."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()

# the integer fields of a message row (32-bit), in the order MESSAGE_ROW packs them
_MESSAGE_FIELDS = ("conn", "seq", "c2s", "record_version", "content_type", "handshake_type", "hrr",
                   "alert_level", "alert_description", "encrypted", "decrypted", "length")


# one message row as stored: the integer fields (_MESSAGE_FIELDS), the frame number (UInt32 as in
# the schema) and the time, packed: one call per row (a dozen appends cost more than the rest of
# the row's work) and 60 bytes instead of a tuple of Python objects
MESSAGE_ROW = struct.Struct(f"<{len(_MESSAGE_FIELDS)}iId")
_MESSAGE_DTYPE = np.dtype([("fields", "<i4", (len(_MESSAGE_FIELDS),)), ("frame", "<u4"), ("time", "<f8")])


class _Messages:
    """Message rows of all connections, packed one after the other (:data:`MESSAGE_ROW`; -1 where
    a code does not apply). Rows are added with ``add(pack(...))``."""

    __slots__ = ("add", "data")
    pack = MESSAGE_ROW.pack

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.data = bytearray()
        self.add = self.data.extend

    def __len__(self) -> int:
        return len(self.data) // MESSAGE_ROW.size

    def frame_for(self, conn_ids: np.ndarray) -> pd.DataFrame:
        """The messages frame, in its schema dtypes; conn_ids maps a connection's index to its conn_id."""
        packed = np.frombuffer(self.data, dtype=_MESSAGE_DTYPE)
        n = len(packed)
        table = packed["fields"]
        ids = conn_ids[table[:, 0]]
        order = np.argsort(ids, kind="stable")  # rows of one connection stay in arrival order

        def field(name: str) -> np.ndarray:  # one column at a time: no sorted copy of the whole table
            if name == "frame":
                return packed["frame"][order].astype(np.int64)
            return table[:, _MESSAGE_FIELDS.index(name)][order].astype(np.int64)  # widened for int_array's -1 test

        dtypes = MESSAGES.dtypes
        columns: dict[str, Any] = {"conn_id": int_array(ids[order], "UInt32")}
        del ids
        for name in ("seq", "frame"):
            columns[name] = int_array(field(name), "UInt32")
        columns["time"] = utc_array(packed["time"][order])
        columns["direction"] = pd.Categorical.from_codes((field("c2s") == 0).astype(np.int8),
                                                         dtype=dtypes["direction"])  # c2s, s2c
        hrr = field("hrr").astype(bool)
        lookups = {"content_type": registry.content_type_name, "handshake_type": registry.handshake_type_name,
                   "alert_level": registry.alert_level_name, "alert_description": registry.alert_name}
        for name in ("record_version", "content_type", "handshake_type", "alert_level", "alert_description"):
            codes = field(name)
            columns[name] = int_array(codes, dtypes[name])
            if name in lookups:
                names = _names(codes, lookups[name])
                if name == "handshake_type":
                    names[hrr] = "hello_retry_request"
                columns[f"{name}_name"] = names
        for name in ("encrypted", "decrypted"):
            columns[name] = pd.arrays.BooleanArray(field(name).astype(bool), np.zeros(n, dtype=bool))
        columns["length"] = int_array(field("length"), "UInt32")
        return pd.DataFrame({name: columns[name] for name in MESSAGES.names})


def _cert_row(conn_id: int, side: str, pos: int, frame: int, time: float, der: bytes) -> dict[str, Any]:
    row: dict[str, Any] = {"conn_id": conn_id, "side": side, "position": pos, "frame": frame, "time": time}
    row.update(_described(der))  # its lists are shared by every row of this DER (cells are read-only)
    row["der"] = der
    return row


@functools.lru_cache(maxsize=4096)
def _described(der: bytes) -> dict[str, Any]:
    """x509.describe, once per distinct certificate: a busy server sends the same chain to
    every client, and parsing it is the costliest step of building the tables.
    Callers copy the result (``row.update``), never modify it."""
    from tlskit.x509 import describe

    try:
        return dict(describe(der))
    except Exception as exc:  # hostile DER: a row that says why, never a crash
        return {"parse_error": f"{type(exc).__name__}: {exc}"}


class _Rows:
    """Finished rows of one table, column-wise: integers, flags and times in compact typed
    arrays (missing: -1 / NaN), everything else (strings, lists, categories) in lists. A
    Python object per cell would dominate memory on a capture with many connections."""

    def __init__(self, columns: Iterable[Column]):
        cols = list(columns)
        self.ints = [c.name for c in cols if c.dtype in _INT_DTYPES]
        self.bools = [c.name for c in cols if c.dtype == "boolean"]
        self.times = [c.name for c in cols if c.dtype == UTC_TIME]
        self.dtypes = {c.name: c.dtype for c in cols}
        self.objects_names = [c.name for c in cols if c.name not in self.ints + self.bools + self.times]
        self._empty()

    def _empty(self) -> None:
        self.int_values, self.bool_values, self.time_values = array("q"), array("b"), array("d")
        self.objects: dict[str, list[Any]] = {name: [] for name in self.objects_names}
        self.count = 0
        self.appends = [(values.append, name) for name, values in self.objects.items()]

    def add(self, row: dict[str, Any]) -> None:
        """One row; columns it does not name are missing."""
        get = row.get
        self.int_values.extend([-1 if (v := get(name)) is None else v for name in self.ints])
        self.bool_values.extend([-1 if (v := get(name)) is None else v for name in self.bools])
        self.time_values.extend([_NAN if (v := get(name)) is None else v for name in self.times])
        for append, name in self.appends:
            append(get(name))
        self.count += 1

    def amend(self, position: int, end_time: float, retransmission: bool) -> None:
        """A trailing packet: a later end_time, one more retransmission (connection rows only)."""
        i = position * len(self.times) + self.times.index("end_time")
        if end_time > self.time_values[i]:
            self.time_values[i] = end_time
        if retransmission:
            self.int_values[position * len(self.ints) + self.ints.index("retransmissions")] += 1

    def split(self, n: int) -> _Rows:
        """A store with this one's first n rows; this one keeps the rest."""
        head = copy.copy(self)
        widths = ((len(self.ints), "int_values"), (len(self.bools), "bool_values"), (len(self.times), "time_values"))
        for width, store in widths:
            values = getattr(self, store)
            setattr(head, store, values[:n * width])
            setattr(self, store, values[n * width:])
        head.objects = {name: values[:n] for name, values in self.objects.items()}
        self.objects = {name: values[n:] for name, values in self.objects.items()}
        self.appends = [(values.append, name) for name, values in self.objects.items()]
        head.count, self.count = n, self.count - n
        return head

    def ints_of(self, name: str) -> np.ndarray:
        """One integer column in row order (-1: missing)."""
        n = self.count
        values = np.frombuffer(self.int_values, dtype=np.int64) if n else np.zeros(0, np.int64)
        return values.reshape(n, len(self.ints))[:, self.ints.index(name)]

    def columns(self, order: np.ndarray) -> dict[str, Any]:
        """Every column as a typed array, rows in `order`; the stored rows are released (the
        store is empty afterwards)."""
        n = self.count
        out: dict[str, Any] = {}
        for names, store, kind in ((self.ints, self.int_values, np.int64), (self.bools, self.bool_values, np.int8),
                                   (self.times, self.time_values, np.float64)):
            table = (np.frombuffer(store, dtype=kind) if n else np.zeros(0, kind)).reshape(n, len(names))
            for k, name in enumerate(names):
                values = table[:, k][order]
                if kind is np.int64:
                    out[name] = int_array(values, self.dtypes[name])
                elif kind is np.int8:
                    out[name] = pd.arrays.BooleanArray(values == 1, values < 0)
                else:
                    out[name] = utc_array(values)
        self.int_values, self.bool_values, self.time_values = array("q"), array("b"), array("d")
        take = _taker(order)
        for name in list(self.objects):
            out[name] = typed(take(self.objects.pop(name)), self.dtypes[name])
        self._empty()
        return out


_NAN = float("nan")
_INT_DTYPES = ("UInt8", "UInt16", "UInt32", "Int64")


class TableBuilder:
    """The rows of one load, filled by an engine as it reads.

    For each TCP connection that carries TLS the engine calls :meth:`open`, then the returned
    connection's ``tcp()`` / ``unit()`` in capture order (sides are 0 for the sender of the
    connection's first packet, 1 for the other), and ``close()`` once nothing more will come.
    A closed connection becomes rows at once and its state is dropped, so memory follows the
    connections still open, not the file. :meth:`tables` makes the three frames.

    Streaming (``spill=``, :mod:`tlskit.capture._export`): every ``spill_rows`` finished
    connections, :meth:`flush` hands the rows so far to ``spill`` and forgets them, so memory
    follows the chunk size; conn_ids are then provisional, to be renumbered by whoever
    collects the chunks.
    """

    def __init__(self, spill: Callable[[Tables], None] | None = None, spill_rows: int = 1 << 14,
                 hold: int = 0) -> None:
        self.ders: dict[bytes, bytes] = {}  # one copy of each certificate
        self.messages = _Messages()
        self.opened = 0
        self.rows = _Rows(c for c in CONNECTIONS.columns if c.name not in ("conn_id", "handshake_duration"))
        self.index = array("q")  # per row: the connection's open() order
        self.cert_rows: list[tuple[int, str, int, int, float, bytes]] = []  # (index, side, position, frame, time, der)
        # streaming (tlskit.capture._export): every spill_rows connection rows, flush(hold) goes to
        # spill; the `hold` newest rows stay, since trailing packets may still amend them
        self.spill, self.spill_rows, self.hold = spill, spill_rows, hold
        self.flushed = 0  # connection rows handed out by flush() (positions below this are gone)
        self.amended: dict[int, list[float]] = {}  # trailing packets of flushed rows: position -> [end_time, retransmissions]

    def open(self, frame: int, time: float, src: str, sport: int, dst: str, dport: int) -> Connection:
        """A connection whose first packet (``frame``) went from src:sport to dst:dport."""
        conn = Connection(self, self.opened, frame, time, (src, sport), (dst, dport))
        self.opened += 1
        return conn

    def finish(self, conn: Connection) -> int:
        """Turn a connection into its row; returns the row's position (-1: not TLS, no row)."""
        if not conn.tls:
            return -1
        self.rows.add(conn.row())
        self.index.append(conn.index)
        if conn.certs:
            self.cert_rows.extend((conn.index, *cert) for cert in conn.certs)
        position = self.flushed + self.rows.count - 1
        if self.spill is not None and self.rows.count >= self.spill_rows + self.hold:
            self.spill(self.flush(self.hold))
        return position

    def late(self, position: int, time: float, retransmission: bool) -> None:
        """A TCP packet of a connection already turned into row `position`."""
        if position >= self.flushed:
            self.rows.amend(position - self.flushed, time, retransmission)
        elif position >= 0:  # its row was flushed: remember the change for whoever renumbers the rows
            change = self.amended.setdefault(position, [time, 0.0])
            change[0] = max(change[0], time)
            change[1] += retransmission

    def tables(self) -> Tables:
        """(messages, connections, certificates); conn_id in order of each connection's first packet."""
        n = len(self.index)
        first = self.rows.ints_of("first_frame")
        index = np.frombuffer(self.index, dtype=np.int64) if n else np.zeros(0, np.int64)
        order = np.lexsort((index, first))  # rows by first packet; ties in open() order
        conn_ids = np.full(self.opened, -1, dtype=np.int64)
        conn_ids[index[order]] = np.arange(n)
        self.index = array("q")  # (the view `index` keeps the old one alive)
        return self._frames(self.rows, index, conn_ids, order)

    def flush(self, hold: int = 0) -> Tables:
        """The rows so far as frames, but for the `hold` newest connection rows, and the builder
        emptied of them (streaming, see tlskit.capture._export). conn_id is provisional: the
        connection's open() order, which :meth:`tables` would turn into first-packet order;
        connection rows come in the order they were finished (their positions, from
        :attr:`flushed` on); a connection still open may have messages here and more in a later
        flush."""
        n = max(0, len(self.index) - hold)
        index = np.frombuffer(self.index, dtype=np.int64)[:n].copy() if n else np.zeros(0, np.int64)
        self.index = self.index[n:]
        tables = self._frames(self.rows.split(n), index, np.arange(self.opened, dtype=np.int64), np.arange(n))
        self.flushed += n
        return tables

    def _frames(self, rows: _Rows, index: np.ndarray, conn_ids: np.ndarray, order: np.ndarray) -> Tables:
        """The three frames: connection `rows` (made by the connections `index` in open() order)
        in `order`, conn_ids[open() index] as conn_id, all messages and certificate rows; the
        stored rows are released."""
        row_ids = conn_ids[index[order]]
        # messages first: their compact arrays are freed before the other frames are made
        messages = check(self.messages.frame_for(conn_ids), MESSAGES)
        self.messages.clear()
        columns: dict[str, Any] = {"conn_id": int_array(row_ids, "UInt32"), **rows.columns(order)}
        columns["handshake_duration"] = (pd.Series(columns["handshake_end_time"])
                                         - pd.Series(columns["client_hello_time"])).array
        connections = check(pd.DataFrame({name: columns[name] for name in CONNECTIONS.names}), CONNECTIONS)
        del columns
        cert_rows = sorted(self.cert_rows, key=lambda r: conn_ids[r[0]])  # stable: chain order kept
        self.cert_rows = []
        certs: dict[str, list[Any]] = {c.name: [] for c in CERTIFICATES.columns}
        for index_, side, pos, frame, time, der in cert_rows:
            row = _cert_row(int(conn_ids[index_]), side, pos, frame, time, der)
            if not certs.keys() >= row.keys():
                raise ValueError(f"certificates: columns not in the schema: {sorted(row.keys() - certs.keys())}")
            for name, values in certs.items():
                values.append(row.get(name))
        n_certs = len(cert_rows)
        del cert_rows
        for col in ("not_before", "not_after"):
            certs[col] = [_utc(v) for v in certs[col]]
        xdtypes = CERTIFICATES.dtypes
        xcols = {name: values if name in ("not_before", "not_after", "der") else typed(values, xdtypes[name])
                 for name, values in certs.items()}
        return messages, connections, conform(pd.DataFrame(xcols) if n_certs else pd.DataFrame(), CERTIFICATES)


def _taker(order: np.ndarray) -> Any:
    """A function reordering a list by `order` (in C: operator.itemgetter)."""
    positions = order.tolist()
    if len(positions) > 1:
        return lambda values: list(operator.itemgetter(*positions)(values))
    return lambda values: [values[i] for i in positions]


def build_tables(events: Iterable[Event], *, path: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Turn an engine's events into the three tables (the tshark engine's way in; the native
    engine drives a :class:`TableBuilder` directly, without event objects).

    Parameters
    ----------
    events
        TcpPacket / TlsUnit events, in capture order within each connection.
    path
        The capture file, for messages only.

    Returns
    -------
    (messages, connections, certificates)
        Frames conforming to :data:`tlskit.schema.MESSAGES` (conn_id, seq, frame, time,
        direction, record_version, content_type(_name), handshake_type(_name), alert_level(_name),
        alert_description(_name), encrypted, decrypted, length),
        :data:`tlskit.schema.CONNECTIONS` (one row per TCP connection that carried TLS,
        conn_id in order of first packet) and :data:`tlskit.schema.CERTIFICATES`.
    """
    builder = TableBuilder()
    conns: dict[Any, Connection] = {}
    for ev in events:
        key: Any = ev.stream if ev.stream >= 0 else tuple(sorted([(ev.src, ev.sport), (ev.dst, ev.dport)]))
        conn = conns.get(key)
        if conn is None:
            conn = conns[key] = builder.open(ev.frame, ev.time, ev.src, ev.sport, ev.dst, ev.dport)
        side = 0 if (ev.src, ev.sport) == conn.first_src else 1
        if isinstance(ev, TlsUnit):
            if ev.starttls and not conn.starttls:
                conn.starttls = ev.starttls
            conn.unit(side, ev.frame, ev.time, ev.content_type, -1 if ev.record_version is None else ev.record_version,
                      ev.length, ev.body, bool(ev.encrypted), bool(ev.decrypted), ev.sslv2, ev.notes)
        else:
            conn.tcp(side, ev.frame, ev.time, ev.flags, ev.payload_len, ev.retransmission)
        if ev.frame < conn.first_frame:  # an engine may hold a connection's first packets back
            conn.first_frame, conn.start_time = ev.frame, min(conn.start_time, ev.time)
    for conn in conns.values():
        conn.close()
    conns.clear()
    return builder.tables()


def _names(codes: np.ndarray, lookup: Any) -> Any:
    """IANA names (a string array) for codes (negative: missing), looked up once per distinct code."""
    distinct, where = np.unique(codes, return_inverse=True)
    names = pd.array([lookup(int(c)) if c >= 0 else None for c in distinct], dtype="string")
    return names.take(where.reshape(-1))


@functools.lru_cache(maxsize=8192)
def _utc(v: Any) -> Any:
    """A certificate date as a UTC Timestamp; dates pandas cannot hold (RFC 5280's
    99991231235959Z "no expiry") are clamped to the representable range."""
    if not isinstance(v, datetime):
        return v
    if v.tzinfo is None:
        v = v.replace(tzinfo=timezone.utc)
    if v >= pd.Timestamp.max.tz_localize("UTC"):
        return pd.Timestamp.max.tz_localize("UTC")
    if v <= pd.Timestamp.min.tz_localize("UTC"):
        return pd.Timestamp.min.tz_localize("UTC")
    return pd.Timestamp(v)


__all__ = ["TableBuilder", "Tables", "build_tables", "paused_gc"]
