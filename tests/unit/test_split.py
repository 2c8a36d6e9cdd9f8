"""load(path, workers=N): how flows are shared out, bad arguments and input, pipes, Ctrl-C.
(The tables themselves: tests/golden/test_workers_agree.py.)"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path

import pandas as pd
import pytest

import tlskit
from tests.conftest import DATA, ROOT
from tests.helpers import busy_capture, group_members
from tlskit.capture._native._engine import share_of
from tlskit.capture._processes import start_method
from tlskit.capture._split import merge
from tlskit.errors import CaptureError

CAPTURE = sorted(DATA.glob("**/capture.pcap"))[0]


def _route(src: str, dst: str, sport: int, dport: int) -> bytes:
    fam = socket.AF_INET6 if ":" in src else socket.AF_INET
    return (socket.inet_pton(fam, src) + socket.inet_pton(fam, dst)
            + sport.to_bytes(2, "big") + dport.to_bytes(2, "big"))


@pytest.mark.parametrize("src,dst", [("10.0.0.1", "192.0.2.77"), ("2001:db8::1", "2001:db8:ffff::443")])
def test_both_directions_of_a_flow_go_to_the_same_worker(src: str, dst: str) -> None:
    for sport in range(40000, 40100):
        for parts in (2, 3, 8):
            forward = share_of(_route(src, dst, sport, 443), parts)
            assert forward == share_of(_route(dst, src, 443, sport), parts)
    # ephemeral ports of one client to one server spread over the workers
    shares = {share_of(_route(src, dst, sport, 443), 4) for sport in range(40000, 40016)}
    assert shares == {0, 1, 2, 3}


@pytest.mark.parametrize("workers", [0, -2, 1.5, "2", True])
def test_workers_must_be_a_positive_integer(workers: object) -> None:
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        tlskit.load(CAPTURE, workers=workers, progress=False)  # type: ignore[arg-type]


def test_workers_need_the_native_engine() -> None:
    with pytest.raises(ValueError, match="engine='native'"):
        tlskit.load(CAPTURE, engine="tshark", workers=2, progress=False)


def test_none_means_one_worker_per_core() -> None:
    one = tlskit.load(CAPTURE, progress=False)
    every = tlskit.load(CAPTURE, progress=False, workers=None)
    pd.testing.assert_frame_equal(one.connections, every.connections)


def test_bad_file_is_the_same_typed_error_with_workers(tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a capture\n" * 100)
    with pytest.raises(CaptureError) as one:
        tlskit.load(bad, progress=False)
    with pytest.raises(CaptureError) as many:
        tlskit.load(bad, progress=False, workers=2)
    assert str(many.value) == str(one.value)
    assert str(bad) in str(many.value) and many.value.fix
    with pytest.raises(CaptureError, match=r"missing\.pcap"):
        tlskit.load(tmp_path / "missing.pcap", progress=False, workers=2)


def test_truncated_capture_warns_once_with_workers(tmp_path: Path) -> None:
    cut = tmp_path / "cut.pcap"
    data = CAPTURE.read_bytes()
    cut.write_bytes(data[: len(data) - 7])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cap = tlskit.load(cut, progress=False, workers=3)
    said = [str(w.message) for w in caught if issubclass(w.category, tlskit.CaptureWarning)]
    assert said == cap.warnings
    assert len(said) == len(set(said)) and any("truncat" in s for s in said)
    assert len(cap.connections) >= 1


def test_a_pipe_is_read_once_by_one_worker() -> None:
    r, w = os.pipe()
    writer = subprocess.Popen(["cat", str(CAPTURE)], stdout=w)
    os.close(w)
    try:
        cap = tlskit.load(f"/dev/fd/{r}", progress=False, workers=4)
    finally:
        os.close(r)
        writer.wait()
    assert len(cap.connections) == len(tlskit.load(CAPTURE, progress=False).connections)


def test_from_a_threaded_process_like_a_notebook_kernel() -> None:
    """A kernel has threads: the pool must not fork it (forkserver), and still gives the same tables."""
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        assert start_method() != "fork"
        many = tlskit.load(CAPTURE, progress=False, workers=2)
    finally:
        stop.set()
        thread.join()
    one = tlskit.load(CAPTURE, progress=False)
    for table in ("messages", "connections", "certificates"):
        pd.testing.assert_frame_equal(getattr(one, table), getattr(many, table))


def test_merge_of_one_part_is_that_part() -> None:
    cap = tlskit.load(CAPTURE, progress=False)
    tables = (cap.messages, cap.connections, cap.certificates)
    assert merge([tables]) is tables


INTERRUPTED = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {root!r})
    import tlskit
    try:
        for i in range(1000):
            tlskit.load({path!r}, workers=3, progress=False)
            if i == 0:
                open({marker!r}, "w").close()
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(0)
    """
)


def test_ctrl_c_stops_every_worker(tmp_path: Path) -> None:
    busy = busy_capture(tmp_path / "busy.pcap", 1500)
    marker = tmp_path / "loaded-once"
    script = INTERRUPTED.format(root=str(ROOT), path=str(busy), marker=str(marker))
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for _ in range(1200):  # bounded wait: one load done, the next one's workers running
            if proc.poll() is not None or (marker.exists() and len(group_members(proc.pid)) >= 3):
                break
            time.sleep(0.02)
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 130, proc.stderr.read().decode() if proc.stderr else ""
        for _ in range(100):  # the pool's workers were terminated and reaped
            if not group_members(proc.pid):
                break
            time.sleep(0.05)
        assert group_members(proc.pid) == []
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
