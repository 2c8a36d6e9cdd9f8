"""Capture tables <-> Parquet: one directory per capture, files that are whole or absent.

Layout written by :func:`to_parquet`::

    DIR/messages.parquet  DIR/connections.parquet  DIR/certificates.parquet
    DIR/diagnosis.parquet (when the object carries one)   DIR/capture.json (provenance)

Each file is written under a temporary name in the same directory and renamed into place
(``os.replace`` is atomic on one file system), so an interrupted export never leaves a
half-written ``*.parquet`` behind. ``capture.json`` is renamed last: its presence marks a
complete export.

The Parquet schema is fixed by :mod:`tlskit.schema`, not inferred from the values, so files
written for thousands of captures concatenate (Dask, pyarrow datasets) even where one
capture has only empty lists or missing values in a column.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tlskit._version import __version__
from tlskit.schema import LIST, TABLES, Table, conform

TABLE_NAMES = ("messages", "connections", "certificates")
MARKER = "capture.json"
# Item type of each list column; everything else in a list column is text.
_INT_LISTS = {
    "client_versions", "offered_ciphers", "offered_extensions", "offered_groups",
    "offered_sig_algs", "offered_key_shares", "server_extensions",
}


def _arrow_type(name: str, dtype: Any) -> pa.DataType:
    if name == "capture":
        return pa.dictionary(pa.int32(), pa.string())
    if name == "der":
        return pa.binary()
    if dtype == LIST:
        return pa.list_(pa.int64() if name in _INT_LISTS else pa.string())
    if isinstance(dtype, pd.CategoricalDtype):
        return pa.dictionary(pa.int8(), pa.string())
    if dtype == "datetime64[ns, UTC]":
        return pa.timestamp("ns", tz="UTC")
    if dtype == "timedelta64[ns]":
        return pa.duration("ns")
    if dtype == "string":
        return pa.string()
    if dtype == "boolean":
        return pa.bool_()
    return pa.from_numpy_dtype(pd.api.types.pandas_dtype(dtype).numpy_dtype)  # UInt8.., Float64


def arrow_schema(table: Table, *, with_capture: bool = False) -> pa.Schema:
    """The Parquet/Arrow schema of a tlskit table (optionally with a leading ``capture`` column)."""
    fields = [pa.field("capture", _arrow_type("capture", None))] if with_capture else []
    fields += [pa.field(c.name, _arrow_type(c.name, c.dtype)) for c in table.columns]
    return pa.schema(fields)


def _to_arrow(frame: pd.DataFrame, table: Table) -> pa.Table:
    with_capture = "capture" in frame.columns
    schema = arrow_schema(table, with_capture=with_capture)
    cols = []
    for f in schema:
        s = frame[f.name] if f.name in frame.columns else pd.Series([None] * len(frame), dtype=object)
        if pa.types.is_list(f.type):
            s = s.map(lambda v: list(v) if isinstance(v, (list, tuple)) else [])
        elif pa.types.is_dictionary(f.type):
            s = s.astype(object).where(s.notna(), None)
        cols.append(pa.array(s, type=f.type, from_pandas=True))
    meta = {b"tlskit": json.dumps({"table": table.name, "version": __version__}).encode()}
    return pa.Table.from_arrays(cols, schema=schema.with_metadata(meta))


def write_table(frame: pd.DataFrame, table: Table, target: str | Path) -> Path:
    """Write one table to ``target`` atomically (temporary name in the same directory, then rename)."""
    target = Path(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        pq.write_table(_to_arrow(frame, table), tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def write_json(data: dict[str, Any], target: Path) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(data, indent=1, default=str))
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def to_parquet(capture: Any, directory: str | Path) -> Path:
    """Write a Capture's tables (and its diagnosis, if it has one) under ``directory``.

    Parameters
    ----------
    capture
        A :class:`tlskit.capture.Capture`, or a load_many result (tables with a ``capture``
        column).
    directory
        Created if missing. Existing files of the same names are replaced whole.

    Returns
    -------
    Path
        ``directory``.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).unlink(missing_ok=True)  # incomplete until rewritten at the end
    written = []
    for name in (*TABLE_NAMES, "diagnosis"):
        frame = getattr(capture, name, None)
        if isinstance(frame, pd.DataFrame):
            write_table(frame, TABLES[name], out / f"{name}.parquet")
            written.append(name)
    keylog = getattr(capture, "keylog", None)
    write_json(
        {
            "path": str(getattr(capture, "path", "")),
            "engine": getattr(capture, "engine", None),
            "keylog": str(keylog) if keylog else None,  # the path only: secrets never leave the key log
            "warnings": list(getattr(capture, "warnings", [])),
            "tables": written,
            "tlskit": __version__,
        },
        out / MARKER,
    )
    return out


def _from_arrow(path: Path, table: Table) -> pd.DataFrame:
    frame = pq.read_table(path).to_pandas()
    for c in table.columns:
        if c.dtype == LIST and c.name in frame.columns:
            frame[c.name] = frame[c.name].map(lambda v: list(v) if v is not None else [])
    if "der" in frame.columns:
        frame["der"] = frame["der"].map(lambda v: bytes(v) if v is not None else None)
    capture = frame.pop("capture") if "capture" in frame.columns else None
    out = conform(frame, table)
    if capture is not None:
        out.insert(0, "capture", capture.astype("category"))
    return out


def read_parquet(directory: str | Path) -> dict[str, Any]:
    """Read a directory written by :func:`to_parquet`.

    Returns
    -------
    dict
        ``messages``, ``connections``, ``certificates`` (and ``diagnosis`` if written) as
        DataFrames with the declared dtypes, plus ``meta`` (the capture.json content).

    Raises
    ------
    FileNotFoundError
        ``capture.json`` is missing: the export is incomplete or this is not one.
    """
    d = Path(directory)
    marker = d / MARKER
    if not marker.is_file():
        raise FileNotFoundError(f"{d}: no {MARKER}; not a complete tlskit Parquet export")
    meta = json.loads(marker.read_text())
    out: dict[str, Any] = {"meta": meta}
    for name in meta.get("tables", TABLE_NAMES):
        frame = _from_arrow(d / f"{name}.parquet", TABLES[name])
        if meta.get("ordered") is False:  # export_parquet: ordered by conn_id within each chunk only
            frame = frame.sort_values("conn_id", kind="stable", ignore_index=True)
        out[name] = frame
    return out


__all__ = ["MARKER", "TABLE_NAMES", "arrow_schema", "read_parquet", "to_parquet", "write_json", "write_table"]
