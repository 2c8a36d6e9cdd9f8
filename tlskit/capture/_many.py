"""Many captures at once: a process pool on one machine, or a Dask cluster for a fleet.

:func:`load_many` reads every capture with :func:`tlskit.load` in worker processes and
concatenates the tables with a leading ``capture`` column (the file's path relative to the
files' common directory, so ``a/capture.pcap`` and ``b/capture.pcap`` stay apart). One bad
file does not stop the batch: it becomes a row of ``errors``.

With ``out=DIR`` each worker writes its capture's tables to ``DIR/<capture>/`` as Parquet
(see :mod:`tlskit.capture._parquet`) and hands back only a summary; without ``diagnose`` the
capture streams there as it is read (:mod:`tlskit.capture._export`), so a worker's memory stays
flat whatever the capture's size (a diagnosis needs the capture's tables in memory). With
``client=`` (a ``dask.distributed.Client``) the same work runs on the cluster's workers.

Interrupts (Ctrl-C, a Jupyter kernel interrupt) stop the batch cleanly: pool workers ignore
SIGINT and are terminated and reaped by the parent, Dask futures are cancelled, and
temporary files of unfinished exports are removed, so neither stray processes nor
half-written files remain.
"""

from __future__ import annotations

import glob
import html
import os
import shutil
import sys
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from tlskit.capture._processes import start_method, worker_pool
from tlskit.errors import CaptureError, CaptureWarning, TlskitError

TABLES = ("messages", "connections", "certificates", "diagnosis")
_TMP_TAG = ".tmp-"


@dataclass(frozen=True)
class _Job:
    index: int
    path: str
    name: str  # the capture column value
    keylog: str | None
    engine: str
    diagnose: dict[str, Any] | None  # keyword arguments for tlskit.diagnose, None: do not
    out: str | None  # write Parquet here instead of returning frames


@dataclass
class _Result:
    index: int
    name: str
    tables: dict[str, pd.DataFrame | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    error_type: str | None = None
    connections: int = 0
    directory: str | None = None


@dataclass
class Captures:
    """Tables of many captures, concatenated, each row tagged with its ``capture``.

    Attributes
    ----------
    paths : list of Path
        The captures, in input order.
    root : Path
        Their common directory; ``capture`` values are relative to it.
    messages, connections, certificates : DataFrame
        The :mod:`tlskit.schema` tables with a leading categorical ``capture`` column.
        ``conn_id`` is unique within a capture, so (capture, conn_id) identifies a connection.
    diagnosis : DataFrame or None
        ``tlskit.diagnose`` per capture (``load_many(..., diagnose=True)``), concatenated.
    errors : DataFrame
        capture, error (exception type), message: captures that could not be read.
    warnings : list of str
        Every capture's warnings (partial reads, no TLS found, ...).
    directory : Path or None
        Where per-capture Parquet was written (``out=``).
    """

    paths: list[Path]
    root: Path
    messages: pd.DataFrame
    connections: pd.DataFrame
    certificates: pd.DataFrame
    engine: str = "native"
    diagnosis: pd.DataFrame | None = None
    errors: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["capture", "error", "message"]))
    warnings: list[str] = field(default_factory=list)
    keylog: Path | None = None
    directory: Path | None = None

    @property
    def path(self) -> Path:
        return self.root

    def __len__(self) -> int:
        return len(self.paths)

    def capture(self, name: str) -> Any:
        """One capture's tables as a :class:`tlskit.capture.Capture` (``capture`` column dropped)."""
        from tlskit.capture import Capture

        names = set(self.connections["capture"].astype(str)) | set(self.messages["capture"].astype(str))
        if name not in names:
            raise KeyError(f"no capture {name!r}; known: {sorted(names)[:5]}{' ...' if len(names) > 5 else ''}")

        def part(frame: pd.DataFrame) -> pd.DataFrame:
            rows = frame[frame["capture"].astype(str) == name]
            return rows.drop(columns="capture").reset_index(drop=True)

        prefix = f"{self.root / name}: "
        return Capture(
            self.root / name, part(self.messages), part(self.connections), part(self.certificates),
            engine=self.engine, warnings=[w for w in self.warnings if w.startswith(prefix)], keylog=self.keylog,
        )

    def to_parquet(self, directory: str | Path) -> Path:
        """Write the concatenated tables (with the ``capture`` column) under ``directory``."""
        from tlskit.capture._parquet import to_parquet

        return to_parquet(self, directory)

    def __repr__(self) -> str:
        est = int(self.connections["established"].fillna(False).sum()) if len(self.connections) else 0
        return (
            f"Captures({len(self.paths)} files under {str(self.root)!r}, engine={self.engine!r}, "
            f"connections={len(self.connections)}, established={est}, errors={len(self.errors)}, "
            f"warnings={len(self.warnings)})"
        )

    def _repr_html_(self) -> str:
        c = self.connections
        per = (
            c.assign(ok=c["established"].fillna(False))
            .groupby("capture", observed=True)
            .agg(connections=("conn_id", "size"), established=("ok", "sum"))
            .reset_index()
        )
        head = html.escape(repr(self))
        errs = ""
        if len(self.errors):
            errs = "<details><summary>errors</summary>" + self.errors.head(20).to_html(index=False) + "</details>"
        return f"<div>{head}</div>{errs}" + per.head(30).to_html(index=False)


# ---------------------------------------------------------------------------- paths


def expand_paths(paths: str | Path | Iterable[str | Path]) -> list[Path]:
    """Files from a glob pattern, a directory (its *.pcap, *.pcapng, *.cap, *.gz), or a list."""
    items = [paths] if isinstance(paths, (str, Path)) else list(paths)
    files: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in (".pcap", ".pcapng", ".cap", ".gz"))
            if not found:
                raise CaptureError("directory holds no .pcap/.pcapng/.cap/.gz file", path=p, fix="pass a glob such as 'dir/**/*.pcap'")
            files.extend(found)
        elif glob.has_magic(str(item)):
            found = sorted(Path(q) for q in glob.glob(str(item), recursive=True) if Path(q).is_file())
            if not found:
                raise CaptureError("no file matches this pattern", path=str(item), fix="check the pattern (use ** with recursive directories)")
            files.extend(found)
        else:
            files.append(p)  # a missing file becomes a row of `errors`, with load()'s message
    if not files:
        raise CaptureError("no capture given", fix="pass a list of files, a directory or a glob pattern")
    return list(dict.fromkeys(files))


def _names(files: list[Path]) -> tuple[Path, list[str]]:
    absolute = [Path(os.path.abspath(f)) for f in files]  # not resolve(): symlinks keep their names
    if len(absolute) == 1:
        return absolute[0].parent, [absolute[0].name]
    root = Path(os.path.commonpath([str(f.parent) for f in absolute]))
    return root, [str(f.relative_to(root)) for f in absolute]


def _slug(name: str) -> str:
    return name.replace(os.sep, "__").replace("/", "__")


# ---------------------------------------------------------------------------- the work of one capture


def _load_one(job: _Job) -> _Result:
    """Runs in a worker: load one capture (and diagnose it); never raises for bad input."""
    from tlskit.capture import load

    res = _Result(job.index, job.name)
    if job.out is not None and job.diagnose is None and job.engine == "native":
        return _stream_one(job, res)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # kept on the Capture, reported once by the parent
            cap = load(job.path, keylog=job.keylog, engine=job.engine, progress=False)
            res.warnings = list(cap.warnings)
            res.tables = {t: getattr(cap, t) for t in ("messages", "connections", "certificates")}
            res.connections = len(cap.connections)
            if job.diagnose is not None:
                from tlskit.diagnose import diagnose

                res.tables["diagnosis"] = diagnose(cap, **job.diagnose)
    except TlskitError as err:  # bad input: a row of `errors`, the batch goes on
        res.error, res.error_type = str(err), type(err).__name__
    except Exception as err:  # a bug must not lose the other captures' results either
        res.error, res.error_type = f"{job.path}: {type(err).__name__}: {err}", "InternalError"
    if job.out is not None:
        res.directory = _export(job, res)
        res.tables = {}
    return res


def _stream_one(job: _Job, res: _Result) -> _Result:
    """out= without a diagnosis: the capture streams to Parquet (export_parquet, rows written as
    connections finish), so a worker's memory stays flat whatever the capture's size; written
    to a temporary directory, then renamed into place like _export."""
    import json

    from tlskit.capture._export import export_parquet
    from tlskit.capture._parquet import MARKER, write_json

    assert job.out is not None
    out = Path(job.out)
    final = out / _slug(job.name)
    tmp = out / f".{_slug(job.name)}{_TMP_TAG}{uuid.uuid4().hex[:8]}"
    try:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # kept in capture.json, reported once by the parent
                export_parquet(job.path, tmp, keylog=job.keylog, progress=False)
        except TlskitError as err:  # bad input: a row of `errors`, the batch goes on
            res.error, res.error_type = str(err), type(err).__name__
        except Exception as err:  # a bug must not lose the other captures' results either
            res.error, res.error_type = f"{job.path}: {type(err).__name__}: {err}", "InternalError"
        if res.error is not None:
            res.directory = _export(job, res)  # the error's own record, as for a loaded capture
            return res
        meta = json.loads((tmp / MARKER).read_text())
        res.warnings, res.connections = list(meta["warnings"]), int(meta["connections"])
        meta.update(path=job.path, capture=job.name, engine=job.engine, keylog=job.keylog, error=None, error_type=None)
        write_json(meta, tmp / MARKER)
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        res.directory = str(final)
        return res
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _export(job: _Job, res: _Result) -> str | None:
    """Write one capture's tables to out/<slug>/ atomically: build a temporary directory,
    then rename it into place."""
    from tlskit.capture._parquet import MARKER, TABLE_NAMES, write_json, write_table
    from tlskit.schema import TABLES as SCHEMA

    assert job.out is not None
    out = Path(job.out)
    final = out / _slug(job.name)
    tmp = out / f".{_slug(job.name)}{_TMP_TAG}{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        written = []
        for name in (*TABLE_NAMES, "diagnosis"):
            frame = res.tables.get(name)
            if isinstance(frame, pd.DataFrame):
                write_table(frame, SCHEMA[name], tmp / f"{name}.parquet")
                written.append(name)
        write_json(
            {"path": job.path, "capture": job.name, "engine": job.engine, "keylog": job.keylog,
             "warnings": res.warnings, "tables": written, "error": res.error, "error_type": res.error_type},
            tmp / MARKER,
        )
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return str(final)


def _pool_map(jobs: list[_Job], workers: int, bar: Any, method: str) -> Iterator[_Result]:
    with worker_pool(method, workers) as pool:
        for res in pool.imap_unordered(_load_one, jobs):
            if bar is not None:
                bar.update(1)
            yield res


def _dask_map(jobs: list[_Job], client: Any, bar: Any) -> Iterator[_Result]:
    from dask.distributed import as_completed

    futures = client.map(_load_one, jobs, pure=False)
    try:
        for future in as_completed(futures):
            res = future.result()
            if bar is not None:
                bar.update(1)
            yield res
    except BaseException:
        client.cancel(futures)
        raise


def _clean_tmp(out: Path | None) -> None:
    if out is None or not out.is_dir():
        return
    for leftover in out.glob(f".*{_TMP_TAG}*"):
        shutil.rmtree(leftover, ignore_errors=True)


def _progress(progress: bool | None, total: int) -> Any:
    if progress is None:
        progress = ("ipykernel" in sys.modules or sys.stderr.isatty()) and total > 1
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="file", desc="captures")


# ---------------------------------------------------------------------------- entry point


def load_many(
    paths: str | Path | Iterable[str | Path],
    *,
    keylog: str | Path | Callable[[Path], str | Path | None] | None = None,
    engine: str = "native",
    workers: int | None = None,
    progress: bool | None = None,
    diagnose: bool | Mapping[str, Any] = False,
    client: Any = None,
    out: str | Path | None = None,
    collect: bool = True,
    errors: Literal["collect", "raise"] = "collect",
) -> Captures:
    """Load many captures in parallel and concatenate their tables.

    Parameters
    ----------
    paths
        A glob pattern (``"captures/**/*.pcap"``), a directory, or a list of files.
    keylog
        One key log for all captures (secrets are looked up by client random), or a
        function from a capture's path to its own key log (or None), e.g.
        ``lambda p: p.with_name("keys.log")`` for the lab's layout.
    engine
        ``"native"`` or ``"tshark"``.
    workers
        Worker processes (default: one per CPU, at most one per file); 1 runs in-process.
        Ignored with ``client``.
    progress
        One progress bar over files; None shows it in notebooks and terminals.
    diagnose
        Also run :func:`tlskit.diagnose` on each capture in the workers (``.diagnosis``).
        A mapping gives its keyword arguments, e.g. ``{"truststore": "cacerts.pem",
        "server_config": "nginx.conf", "lang": "ja"}`` (paths rather than loaded objects,
        since they travel to the workers).
    client
        A ``dask.distributed.Client``: run on its cluster. Requires ``out`` (a directory all
        workers can write, e.g. a shared file system), since tables travel as Parquet.
    out
        Write each capture's tables to ``out/<capture>/`` as Parquet (atomically).
    collect
        With ``out``: read the written tables back into the result. False keeps them on
        disk only (the result's tables are empty; ``.directory``, ``.errors`` and
        ``.warnings`` are filled): read ``out/*/<table>.parquet`` with Dask or pyarrow.
    errors
        ``"collect"``: unreadable captures become rows of ``.errors`` and one warning;
        ``"raise"``: the first one raises its error after the batch stops.

    Returns
    -------
    Captures
        ``messages``, ``connections``, ``certificates`` (and ``diagnosis``), each with a
        leading categorical ``capture`` column, plus ``errors`` and ``warnings``.

    Raises
    ------
    CaptureError
        Nothing matched ``paths``; or, with ``errors="raise"``, a capture could not be read.
    """
    if engine not in ("native", "tshark"):
        raise ValueError(f"engine must be 'native' or 'tshark', not {engine!r}")
    if client is not None and out is None:
        raise ValueError("load_many(client=...) needs out=DIR: a directory every Dask worker can write")
    if keylog is not None and not callable(keylog):
        from tlskit.tls.keylog import read_keylog

        read_keylog(keylog)  # fail once, here, rather than once per capture
    files = expand_paths(paths)
    keylogs = [_keylog_for(keylog, f) for f in files]
    diag_args = dict(diagnose) if isinstance(diagnose, Mapping) else ({} if diagnose else None)
    root, names = _names(files)
    out_dir = Path(out).resolve() if out is not None else None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    jobs = [
        _Job(i, str(f), n, k, engine, diag_args, str(out_dir) if out_dir else None)
        for i, (f, n, k) in enumerate(zip(files, names, keylogs, strict=True))
    ]
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(jobs)))
    method = start_method()  # before the progress bar, whose monitor is a thread
    bar = _progress(progress, len(jobs))
    results: list[_Result] = []
    try:
        if client is not None:
            stream: Iterable[_Result] = _dask_map(jobs, client, bar)
        elif n_workers == 1:
            stream = (_tick(bar, _load_one(job)) for job in jobs)
        else:
            stream = _pool_map(jobs, n_workers, bar, method)
        for res in stream:
            results.append(res)
            if errors == "raise" and res.error is not None:
                break
    finally:
        if bar is not None:
            bar.close()
        _clean_tmp(out_dir)
    results.sort(key=lambda r: r.index)
    failed = [r for r in results if r.error is not None]
    if errors == "raise" and failed:
        first = failed[0]
        raise CaptureError(first.error or "unreadable capture", fix="see the message; errors='collect' skips such files")
    if failed:
        warnings.warn(
            CaptureWarning(f"{len(failed)} of {len(jobs)} capture(s) could not be read; see .errors "
                           f"(first: {failed[0].error})"),
            stacklevel=2,
        )
    if out_dir is not None and collect:
        _read_back(results)
    return _assemble(results, files, root, names, engine, None if callable(keylog) else keylog, out_dir)


def _keylog_for(keylog: Any, capture: Path) -> str | None:
    # Resolved in the parent, so the function need not be picklable for the pool.
    found = keylog(capture) if callable(keylog) else keylog
    return str(found) if found else None


def _tick(bar: Any, res: _Result) -> _Result:
    if bar is not None:
        bar.update(1)
    return res


def _read_back(results: list[_Result]) -> None:
    from tlskit.capture._parquet import read_parquet

    for res in results:
        if res.directory:
            data = read_parquet(res.directory)
            res.tables = {t: data[t] for t in TABLES if t in data}


def _assemble(
    results: list[_Result], files: list[Path], root: Path, names: list[str], engine: str,
    keylog: str | Path | None, out_dir: Path | None,
) -> Captures:
    from tlskit.schema import TABLES as SCHEMA
    from tlskit.schema import empty

    category = pd.CategoricalDtype(names)
    frames: dict[str, list[pd.DataFrame]] = {t: [] for t in TABLES}
    for res in results:
        for t in TABLES:
            frame = res.tables.get(t)
            if isinstance(frame, pd.DataFrame) and len(frame):
                frame = frame.drop(columns="capture", errors="ignore")
                frame.insert(0, "capture", pd.Categorical([res.name] * len(frame), dtype=category))
                frames[t].append(frame)

    def concat(t: str) -> pd.DataFrame:
        if frames[t]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # all-NA columns in some frames
                return pd.concat(frames[t], ignore_index=True)
        base = empty(SCHEMA[t])
        base.insert(0, "capture", pd.Categorical([], dtype=category))
        return base

    errors = pd.DataFrame(
        [(r.name, r.error_type, r.error) for r in results if r.error is not None],
        columns=["capture", "error", "message"],
    )
    any_diag = any(isinstance(r.tables.get("diagnosis"), pd.DataFrame) for r in results)
    return Captures(
        paths=files,
        root=root,
        messages=concat("messages"),
        connections=concat("connections"),
        certificates=concat("certificates"),
        engine=engine,
        diagnosis=concat("diagnosis") if any_diag else None,
        errors=errors,
        warnings=[w for r in results for w in r.warnings],
        keylog=Path(keylog) if keylog else None,
        directory=out_dir,
    )


__all__ = ["Captures", "expand_paths", "load_many"]
