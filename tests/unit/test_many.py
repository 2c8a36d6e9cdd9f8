"""load_many (process pool, Dask), Parquet export, and clean interrupts, on real captures."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import CONFORMANCE, ROOT
from tests.helpers import group_members as _group_members
from tlskit.capture import load
from tlskit.capture._many import Captures, expand_paths, load_many
from tlskit.capture._parquet import MARKER, read_parquet, to_parquet
from tlskit.errors import CaptureError, CaptureWarning

ARKIME = CONFORMANCE / "fingerprints" / "arkime"
FILES = ["tls13.pcap", "openssl-tls1_2.pcap", "ssl-selfsign.pcap", "tls-alpn-h2.pcap"]
pytestmark = pytest.mark.skipif(not ARKIME.is_dir(), reason="conformance captures not available")


def _quiet_load(path: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        return load(path)


@pytest.fixture(scope="module")
def singles() -> dict[str, object]:
    return {name: _quiet_load(ARKIME / name) for name in FILES}


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """Two directories holding files of the same name, as the lab lays out its output."""
    for i, name in enumerate(FILES):
        d = tmp_path / "in" / f"case{i % 2}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{i}-{name}").symlink_to(ARKIME / name)
    (tmp_path / "in" / "case0" / "same.pcap").symlink_to(ARKIME / FILES[0])
    (tmp_path / "in" / "case1" / "same.pcap").symlink_to(ARKIME / FILES[1])
    return tmp_path / "in"


def _expected(singles: dict, names: dict[str, str], table: str) -> pd.DataFrame:
    parts = []
    for capture, file in names.items():
        frame = getattr(singles[file], table).copy()
        frame.insert(0, "capture", capture)
        parts.append(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return pd.concat(parts, ignore_index=True)


def test_pool_concatenates_in_input_order_with_relative_names(singles: dict) -> None:
    files = [ARKIME / f for f in FILES]
    many = load_many(files, workers=2, progress=False)
    assert isinstance(many, Captures) and len(many) == 4 and many.root == ARKIME.absolute()
    assert list(many.connections["capture"].cat.categories) == FILES
    for table in ("messages", "connections", "certificates"):
        got = getattr(many, table).assign(capture=lambda f: f["capture"].astype(str))
        pd.testing.assert_frame_equal(got, _expected(singles, {f: f for f in FILES}, table))
    one = many.capture("ssl-selfsign.pcap")
    pd.testing.assert_frame_equal(one.connections, singles["ssl-selfsign.pcap"].connections)
    with pytest.raises(KeyError):
        many.capture("nope.pcap")


def test_same_file_names_in_different_directories_stay_apart(tree: Path) -> None:
    many = load_many(str(tree / "**" / "*.pcap"), workers=1, progress=False)
    names = list(many.connections["capture"].cat.categories)
    assert "case0/same.pcap" in names and "case1/same.pcap" in names
    assert many.root == tree.absolute()
    assert len(expand_paths(tree)) == 6  # a directory is searched recursively


def test_bad_files_become_errors_not_a_failed_batch(tmp_path: Path) -> None:
    text = tmp_path / "notes.pcap"
    text.write_text("this is not a capture\n")
    for name in FILES[:2]:
        (tmp_path / name).symlink_to(ARKIME / name)
    with pytest.warns(CaptureWarning, match="1 of 3 capture"):
        many = load_many([tmp_path / FILES[0], text, tmp_path / FILES[1]], workers=2, progress=False)
    assert list(many.errors["capture"]) == ["notes.pcap"]
    assert many.errors.loc[0, "error"] == "CaptureError" and "notes.pcap" in many.errors.loc[0, "message"]
    assert set(many.connections["capture"].astype(str)) == {FILES[0], FILES[1]}
    with pytest.raises(CaptureError, match=r"notes\.pcap"):
        load_many([text], errors="raise", progress=False)


def test_nothing_to_load_is_a_capture_error(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="no file matches"):
        load_many(str(tmp_path / "*.pcapng"))
    with pytest.raises(CaptureError, match=r"no \.pcap"):
        load_many(tmp_path)
    with pytest.raises(ValueError, match="out=DIR"):
        load_many([ARKIME / FILES[0]], client=object())


def test_parquet_roundtrip_is_exact(tmp_path: Path, singles: dict) -> None:
    cap = singles["ssl-selfsign.pcap"]
    out = cap.to_parquet(tmp_path / "one")
    assert (out / MARKER).is_file() and not list(out.glob(".*"))
    back = read_parquet(out)
    for table in ("messages", "connections", "certificates"):
        pd.testing.assert_frame_equal(back[table], getattr(cap, table))
    assert back["meta"]["engine"] == "native" and back["meta"]["path"].endswith("ssl-selfsign.pcap")
    many = load_many([ARKIME / f for f in FILES], workers=1, progress=False)
    back = read_parquet(to_parquet(many, tmp_path / "all"))
    pd.testing.assert_frame_equal(back["connections"], many.connections)
    with pytest.raises(FileNotFoundError, match=MARKER):
        read_parquet(tmp_path)


def test_out_directory_per_capture_with_diagnosis(tmp_path: Path) -> None:
    files = [ARKIME / f for f in FILES]
    mem = load_many(files, workers=2, progress=False)
    disk = load_many(files, workers=2, progress=False, out=tmp_path / "pq", diagnose={"lang": "ja"})
    pd.testing.assert_frame_equal(disk.connections, mem.connections)
    dirs = sorted(p.name for p in (tmp_path / "pq").iterdir())
    assert dirs == sorted(FILES) and all((tmp_path / "pq" / d / MARKER).is_file() for d in dirs)
    assert disk.diagnosis is not None
    assert len(disk.diagnosis) == len(disk.connections)
    assert set(disk.diagnosis["capture"].astype(str)) == set(disk.connections["capture"].astype(str))
    english = load_many(files[:1], workers=1, progress=False, diagnose=True).diagnosis
    assert english is not None and list(english["cause"]) == list(disk.diagnosis["cause"][: len(english)])
    assert list(english["summary"]) != list(disk.diagnosis["summary"][: len(english)])  # lang="ja" reached the workers


def test_dask_local_cluster_writes_parquet_per_capture(tmp_path: Path) -> None:
    distributed = pytest.importorskip("dask.distributed")
    files = [ARKIME / f for f in FILES]
    mem = load_many(files, workers=1, progress=False)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        got = load_many(files, client=client, out=tmp_path / "fleet", progress=False)
    pd.testing.assert_frame_equal(got.connections, mem.connections)
    pd.testing.assert_frame_equal(got.certificates, mem.certificates)
    assert sorted(p.name for p in (tmp_path / "fleet").iterdir()) == sorted(FILES)


INTERRUPTED = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    from tlskit.capture._many import load_many
    try:
        load_many({files!r}, workers=2, progress=False, out={out!r})
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)
    """
)


def test_ctrl_c_leaves_no_processes_and_no_partial_files(tmp_path: Path) -> None:
    src = CONFORMANCE / "fingerprints" / "ja4" / "http2-with-cookies.pcapng"  # the largest: slow enough
    files = []
    for i in range(40):
        link = tmp_path / f"c{i:02d}.pcapng"
        link.symlink_to(src)
        files.append(str(link))
    out = tmp_path / "out"
    script = INTERRUPTED.format(root=str(ROOT), files=files, out=str(out))
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(600):  # wait (bounded) until the first capture has been exported
            if out.is_dir() and any(p.is_dir() and not p.name.startswith(".") for p in out.iterdir()):
                break
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        os.kill(proc.pid, signal.SIGINT)
        rc = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert rc == 130, proc.stderr.read().decode() if proc.stderr else ""
    for _ in range(100):  # terminated workers are reaped by the parent before it exits
        if not _group_members(proc.pid):
            break
        time.sleep(0.05)
    assert _group_members(proc.pid) == []
    done = list(out.iterdir())
    assert 0 < len(done) < 40
    assert not [p for p in done if p.name.startswith(".")]  # no temporary leftovers
    for d in done:  # every directory that exists is a complete export
        data = read_parquet(d)
        assert len(data["connections"]) >= 1


def test_per_capture_key_logs_decrypt_tls13(tmp_path: Path) -> None:
    ws = CONFORMANCE / "fingerprints" / "wireshark"
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "capture.pcap").symlink_to(ws / "tls13-rfc8446.pcap")
    (tmp_path / "a" / "keys.log").symlink_to(ws / "keys" / "tls13-rfc8446.keys")  # b has none
    many = load_many(tmp_path, keylog=lambda p: p.with_name("keys.log") if p.with_name("keys.log").exists() else None,
                     workers=2, progress=False)
    visible = many.connections.groupby("capture", observed=True)["server_certificate_visible"].any()
    assert bool(visible["a/capture.pcap"]) and not bool(visible["b/capture.pcap"])
    assert len(many.errors) == 0


def test_out_without_diagnosis_streams_each_capture(tmp_path: Path) -> None:
    """out= and no diagnosis: each capture goes through export_parquet (flat memory); the tables
    read back are the ones loaded in memory, bad files are still rows of errors."""
    bad = tmp_path / "notes.pcap"
    bad.write_text("not a capture\n" * 20)
    files = [ARKIME / f for f in FILES] + [bad]
    with pytest.warns(CaptureWarning, match="1 of 5 capture"):
        mem = load_many(files, workers=2, progress=False)
    with pytest.warns(CaptureWarning, match="1 of 5 capture"):
        disk = load_many(files, workers=2, progress=False, out=tmp_path / "pq")
    for table in ("messages", "connections", "certificates"):
        pd.testing.assert_frame_equal(getattr(disk, table), getattr(mem, table))
    assert list(disk.errors["capture"]) == list(mem.errors["capture"])
    assert disk.errors["capture"].iloc[0].endswith("notes.pcap")
    assert disk.warnings == mem.warnings
    metas = [json.loads((d / MARKER).read_text()) for d in sorted((tmp_path / "pq").iterdir())]
    assert len(metas) == len(files)  # and nothing temporary left beside them
    streamed = [m for m in metas if m["error"] is None]
    assert len(streamed) == len(FILES) and all(m["ordered"] is False for m in streamed)
    assert sum(m["connections"] for m in streamed) == len(mem.connections)
    failed = [m for m in metas if m["error"] is not None]
    assert [m["error_type"] for m in failed] == ["CaptureError"] and "not a packet capture" in failed[0]["error"]
