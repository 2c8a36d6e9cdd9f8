"""B8: a capture read from a pipe (`tcpdump -w - | tlskit diagnose /dev/stdin`, `<(zcat x.pcap.gz)`)
gives the same tables as the file; unreadable inputs are one-line CaptureErrors.

Pipes are real: os.pipe() fed by a thread for the API, shell pipelines and bash process
substitution for the CLI. The capture is the lab sample (data/sample, see data/README.md).
"""

from __future__ import annotations

import errno
import gzip
import io
import os
import shutil
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.conftest import DATA, ROOT, requires_tshark
from tlskit.capture import Capture, load
from tlskit.errors import CaptureError, CaptureWarning

CAP = DATA / "sample" / "capture.pcap"


@pytest.fixture(scope="module")
def from_file() -> Capture:
    return load(CAP)


def _pipe(data: bytes, *, trickle: int = 0) -> Iterator[str]:
    """A path naming the read end of a real pipe that a thread fills with `data`.

    trickle: the first `trickle` bytes go one write at a time, as a slow producer sends them.
    """
    r, w = os.pipe()

    def feed() -> None:
        try:
            for i in range(trickle):
                os.write(w, data[i:i + 1])
                time.sleep(0.001)
            view = memoryview(data)[trickle:]
            while view:
                view = view[os.write(w, view):]
        except BrokenPipeError:  # the reader gave up early (a bad-input case)
            pass
        finally:
            os.close(w)

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        yield f"/dev/fd/{r}"
    finally:
        os.close(r)
        feeder.join(timeout=30)


def _same_tables(a: Capture, b: Capture) -> None:
    for name in ("messages", "connections", "certificates"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    assert len(a.connections) == 15 and len(a.certificates) == 11  # the sample's 15 handshakes


@pytest.mark.parametrize(("compress", "trickle"), [(False, 0), (False, 30), (True, 0), (True, 12)],
                         ids=["pcap", "pcap-slow-start", "gzip", "gzip-slow-start"])
def test_api_reads_a_pipe(from_file: Capture, compress: bool, trickle: int) -> None:
    data = CAP.read_bytes()
    if compress:
        data = gzip.compress(data)
    for path in _pipe(data, trickle=trickle):
        cap = load(path)
        _same_tables(cap, from_file)
        assert cap.warnings == from_file.warnings == []


def test_api_reads_a_pipe_with_a_progress_bar(from_file: Capture) -> None:
    """A pipe has no size (stat says 0): the progress bar must not divide by it."""
    for path in _pipe(CAP.read_bytes()):
        _same_tables(load(path, progress=True), from_file)


@pytest.mark.parametrize(("data", "what"), [
    (b"", "the file is empty"),
    (b"CLIENT_RANDOM " + b"ab" * 32 + b" " + b"cd" * 48 + b"\n", "this is a TLS key log"),
    (gzip.compress(b"CLIENT_RANDOM " + b"ab" * 32 + b"\n"), "this is a TLS key log"),
    (b"\x1f\x8b\x08\x00garbage-not-deflate", "gzip data is damaged"),
    (b"\x00\x01", "too short"),
], ids=["empty", "keylog", "gzipped-keylog", "bad-gzip", "short"])
def test_api_bad_input_from_a_pipe(data: bytes, what: str) -> None:
    for path in _pipe(data):
        with pytest.raises(CaptureError, match=what) as caught:
            load(path)
        assert caught.value.path == path and caught.value.fix


def test_api_a_terminal_is_refused_not_waited_on() -> None:
    """`tlskit diagnose /dev/stdin` with nothing piped in: stdin is the terminal."""
    main, tty = os.openpty()
    try:
        with pytest.raises(CaptureError, match="terminal") as caught:
            load(f"/dev/fd/{tty}")
        assert "pipe a capture into it" in (caught.value.fix or "")
    finally:
        os.close(main)
        os.close(tty)


def test_api_read_error_right_after_open_is_a_capture_error() -> None:
    with pytest.raises(CaptureError, match=r"cannot read the file \(Input/output error\)") as caught:
        load("/proc/self/mem")  # opens fine, every read at offset 0 fails with EIO
    assert caught.value.path == "/proc/self/mem" and "copy the file" in (caught.value.fix or "")


# ---- the CLI, as users type it ---------------------------------------------------------------


def _sh(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="100")
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pipes")
    shutil.copy(CAP, d / "cap.pcap")
    (d / "cap.pcap.gz").write_bytes(gzip.compress(CAP.read_bytes()))
    return d


@pytest.fixture(scope="module")
def expected(work: Path) -> str:
    proc = _sh(f'"{sys.executable}" -m tlskit diagnose cap.pcap', work)
    assert proc.returncode == 0 and proc.stderr == "" and "incomplete_chain" in proc.stdout
    return proc.stdout


@pytest.mark.parametrize("command", [
    "cat cap.pcap | {py} -m tlskit diagnose /dev/stdin",
    "cat cap.pcap.gz | {py} -m tlskit diagnose /dev/stdin",
    "{py} -m tlskit diagnose <(cat cap.pcap)",
    "{py} -m tlskit diagnose <(zcat cap.pcap.gz)",
], ids=["stdin", "stdin-gzip", "process-substitution", "process-substitution-zcat"])
def test_cli_pipe_gives_the_file_result(work: Path, expected: str, command: str) -> None:
    proc = _sh(command.format(py=f'"{sys.executable}"'), work)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout == expected


def test_cli_unreadable_file_is_one_line(work: Path) -> None:
    proc = _sh(f'"{sys.executable}" -m tlskit diagnose /proc/self/mem', work)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        "tlskit: /proc/self/mem: cannot read the file (Input/output error). Fix: check the disk or network share "
        "it is on (`dmesg` shows I/O errors), or copy the file to a local disk and load the copy"
    ]


@requires_tshark
@pytest.mark.parametrize("command", [
    "cat cap.pcap | {py} -m tlskit diagnose --engine tshark /dev/stdin",
    "{py} -m tlskit diagnose --engine tshark <(cat cap.pcap)",
], ids=["stdin", "process-substitution"])
def test_cli_tshark_engine_refuses_a_pipe(work: Path, command: str) -> None:
    """tshark reads the capture once per pass; a pipe serves one reader once: refuse, never hang."""
    proc = _sh(command.format(py=f'"{sys.executable}"'), work)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith("tlskit: /dev/") and "is a pipe or device, not a file" in line
    assert "Fix: save it to a file first" in line and "engine='native'" in line


def test_cli_report_refuses_a_pipe_in_one_line(work: Path) -> None:
    # B9: the postmortem notebook reads the capture again in its own kernel; a pipe is gone by then
    proc = _sh(f'cat cap.pcap | "{sys.executable}" -m tlskit report /dev/stdin -o r.html', work)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [
        "tlskit: /dev/stdin: is a pipe or device, not a file; the report reads it again in a notebook kernel. "
        "Fix: save it to a file first, e.g. `cat > saved.pcap`, and pass that file"]
    assert not (work / "r.html").exists()


class _FailingDisk(io.RawIOBase):
    """A file whose reads fail with EIO after `good` bytes, as a failing disk or a stale NFS
    handle does (no such device here: the one test double in this file)."""

    def __init__(self, data: bytes, good: int):
        self.data, self.good, self.pos = data, good, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.pos >= self.good:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        n = min(len(buffer), self.good - self.pos)
        buffer[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


def test_a_read_error_mid_file_keeps_the_packets_before_it() -> None:
    from tlskit.capture._native._reader import PacketReader

    data = CAP.read_bytes()
    whole = list(PacketReader(CAP, io.BytesIO(data), "pcap"))  # type: ignore[arg-type]
    reader = PacketReader(CAP, _FailingDisk(data, len(data) // 2), "pcap")  # type: ignore[arg-type]
    with warnings.catch_warnings():
        warnings.simplefilter("error", CaptureWarning)  # not "cut off while being written": a read error
        got = list(reader)
    assert 0 < len(got) < len(whole) and got == whole[:len(got)]
    good = len(data) // 2
    assert reader.notes == [f"read error after byte {good:,} (Input/output error); the packets before it were read"]
