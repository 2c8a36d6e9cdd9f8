"""export_parquet / read_parquet / `tlskit export`: bad input, pipes, interrupts, the command line.
(Equality with load(): tests/golden/test_export_agrees.py.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

import tlskit
from tests.conftest import DATA, ROOT
from tests.helpers import busy_capture, group_members
from tlskit.cli import main
from tlskit.errors import CaptureError

SCENARIO = DATA / "scenarios" / "ok_tls13"
CAPTURE = SCENARIO / "capture.pcap"


def test_missing_or_non_capture_file_fails_before_out_is_made(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(CaptureError, match=r"missing\.pcap.*not found"):
        tlskit.export_parquet(tmp_path / "missing.pcap", out)
    text = tmp_path / "notes.txt"
    text.write_text("not a capture\n" * 50)
    with pytest.raises(CaptureError, match="not a packet capture") as err:
        tlskit.export_parquet(text, out, workers=2)
    assert err.value.fix and str(text) in str(err.value)
    assert not out.exists()


def test_out_that_cannot_be_written_is_a_capture_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(CaptureError, match="cannot write the export") as err:
        tlskit.export_parquet(CAPTURE, blocker / "out")
    assert str(blocker / "out") in str(err.value)


def test_truncated_capture_exports_what_was_read_with_the_warning(tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    data = CAPTURE.read_bytes()
    cut.write_bytes(data[: len(data) - 9])
    with pytest.warns(tlskit.CaptureWarning, match="truncat"):
        tlskit.export_parquet(cut, tmp_path / "out")
    back = tlskit.read_parquet(tmp_path / "out")
    assert any("truncat" in w for w in back.warnings)
    assert len(back.connections) >= 1
    assert json.loads((tmp_path / "out" / "capture.json").read_text())["warnings"] == back.warnings


def test_a_pipe_is_exported_by_one_worker(tmp_path: Path) -> None:
    r, w = os.pipe()
    writer = subprocess.Popen(["cat", str(CAPTURE)], stdout=w)
    os.close(w)
    try:
        tlskit.export_parquet(f"/dev/fd/{r}", tmp_path / "out", workers=3, progress=False)
    finally:
        os.close(r)
        writer.wait()
    back = tlskit.read_parquet(tmp_path / "out")
    direct = tlskit.load(CAPTURE, progress=False)
    pd.testing.assert_frame_equal(back.connections, direct.connections)


def test_reexport_replaces_the_files_whole(tmp_path: Path) -> None:
    out = tmp_path / "out"
    tlskit.load_many([DATA / "sample" / "capture.pcap"], progress=False, out=tmp_path / "many", diagnose=True)
    (out.parent / "many" / "capture.pcap").rename(out)  # an earlier export with a diagnosis
    assert (out / "diagnosis.parquet").is_file()
    tlskit.export_parquet(CAPTURE, out, keylog=SCENARIO / "keys.log", progress=False)
    back = tlskit.read_parquet(out)
    direct = tlskit.load(CAPTURE, keylog=SCENARIO / "keys.log", progress=False)
    pd.testing.assert_frame_equal(back.messages, direct.messages)
    assert back.connections["decrypted"].all()
    assert sorted(p.name for p in out.iterdir()) == [
        "capture.json", "certificates.parquet", "connections.parquet", "messages.parquet"]


def test_read_parquet_refuses_what_is_not_one_export(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="not a complete tlskit Parquet export"):
        tlskit.read_parquet(tmp_path)
    many = tlskit.load_many([CAPTURE, DATA / "sample" / "capture.pcap"], workers=1, progress=False)
    many.to_parquet(tmp_path / "many")
    with pytest.raises(CaptureError, match="several captures"):
        tlskit.read_parquet(tmp_path / "many")


def test_export_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert main(["export", str(CAPTURE), "-o", str(out), "--keylog", str(SCENARIO / "keys.log")]) == 0
    n = len(tlskit.load(CAPTURE, progress=False).connections)
    assert capsys.readouterr().out.startswith(f"{n} TLS connection(s) from {CAPTURE} -> {out}/")
    assert tlskit.read_parquet(out).connections["decrypted"].all()
    assert main(["export", str(tmp_path / "nope.pcap"), "-o", str(out)]) == 2
    assert "nope.pcap: capture file not found" in capsys.readouterr().err


INTERRUPTED = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    import tlskit
    try:
        for i in range(1000):
            tlskit.export_parquet({path!r}, {out!r}, workers={workers}, chunk_rows=50, progress=False)
            if i == 0:
                open({marker!r}, "w").close()
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)
    """
)


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_leaves_no_process_and_no_partial_file(tmp_path: Path, workers: int) -> None:
    busy = busy_capture(tmp_path / "busy.pcap", 1500)
    out, marker = tmp_path / "out", tmp_path / "exported-once"
    script = INTERRUPTED.format(root=str(ROOT), path=str(busy), out=str(out), workers=workers, marker=str(marker))
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(1500):  # bounded: one export done, the next one writing chunks
            if proc.poll() is not None:
                break
            if marker.exists() and not (out / "capture.json").exists() and any(out.glob(".tmp-export-*/*.parquet")) \
                    and len(group_members(proc.pid)) >= workers + (workers > 1):
                break
            time.sleep(0.01)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 130, proc.stderr.read().decode() if proc.stderr else ""
        for _ in range(100):
            if not group_members(proc.pid):
                break
            time.sleep(0.05)
        assert group_members(proc.pid) == []
        assert not list(out.glob(".tmp-export-*")) and not list(out.glob(".*.tmp"))
        # what is there is whole: either no export (marker removed at the start) or a complete one
        if (out / "capture.json").exists():
            assert len(tlskit.read_parquet(out).connections) == 1500
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
