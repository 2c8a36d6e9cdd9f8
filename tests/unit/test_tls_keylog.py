"""Key log reading: NSS format, junk lines, errors, DSB text, and secrets never shown."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import CONFORMANCE
from tlskit.errors import CaptureWarning, KeylogError
from tlskit.tls.keylog import keylog_from_dsb, keylog_from_text, read_keylog

CR1 = "aa" * 32
CR2 = "bb" * 32
SECRET = "0123456789abcdef" * 4
MASTER = "fe" * 48


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "keys.log"
    p.write_text(text)
    return p


def test_reads_tls13_and_tls12_lines(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        "# SSL/TLS secrets log file\n\n"
        f"CLIENT_HANDSHAKE_TRAFFIC_SECRET {CR1} {SECRET}\n"
        f"SERVER_HANDSHAKE_TRAFFIC_SECRET {CR1} {SECRET[::-1]}\n"
        f"CLIENT_TRAFFIC_SECRET_0 {CR1.upper()} {SECRET}\n"
        f"CLIENT_RANDOM {CR2} {MASTER}\n"
        f"RSA {'01' * 8} {'02' * 48}\n",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean file warns about nothing
        log = read_keylog(p)
    assert len(log) == 2 and bytes.fromhex(CR1) in log
    s = log.secrets_for(bytes.fromhex(CR1))
    assert set(s) == {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0"}
    assert s["SERVER_HANDSHAKE_TRAFFIC_SECRET"] == bytes.fromhex(SECRET[::-1])
    assert log.secrets_for(bytes.fromhex(CR2)) == {"CLIENT_RANDOM": bytes.fromhex(MASTER)}
    assert log.secrets_for(b"\x00" * 32) == {}
    assert log.rsa_premaster(bytes.fromhex("01" * 8) + b"more") == bytes.fromhex("02" * 48)
    assert log.label_counts["CLIENT_RANDOM"] == 1 and log.skipped == 0


def test_junk_lines_are_skipped_counted_and_warned(tmp_path: Path) -> None:
    p = _write(
        tmp_path,
        f"CLIENT_RANDOM {CR1} {MASTER}\n"
        "this is not a key line\n"
        f"CLIENT_RANDOM {CR1[:-2]} {MASTER}\n"  # client random of 31 bytes
        f"CLIENT_RANDOM {CR2} {MASTER[:-1]}\n",  # odd hex
    )
    with pytest.warns(CaptureWarning) as rec:
        log = read_keylog(p)
    assert len(log) == 1 and log.skipped == 3 and log.first_bad_line == 2
    msg = str(rec[0].message)
    assert str(p) in msg and "line 2" in msg and "3 malformed" in msg


@pytest.mark.parametrize("kind", ["missing", "directory", "empty", "junk-only"])
def test_unusable_key_logs_raise_keylog_error(tmp_path: Path, kind: str) -> None:
    path = {
        "missing": tmp_path / "nope.log",
        "directory": tmp_path,
        "empty": _write(tmp_path, ""),
        "junk-only": _write(tmp_path, "hello\nworld\n"),
    }[kind]
    with pytest.raises(KeylogError) as info:
        read_keylog(path)
    err = info.value
    assert err.path == str(path) and err.fix and "SSLKEYLOGFILE" in err.fix
    if kind == "junk-only":
        assert "line: 1" in err.what


def test_secrets_never_appear_in_repr_or_str(tmp_path: Path) -> None:
    log = read_keylog(_write(tmp_path, f"CLIENT_TRAFFIC_SECRET_0 {CR1} {SECRET}\nCLIENT_RANDOM {CR2} {MASTER}\n"))
    for text in (repr(log), str(log), f"{log}", repr([log])):
        assert SECRET not in text.lower() and MASTER not in text.lower()
        assert "redacted" in text and "2 sessions" in text
    clone = pickle.loads(pickle.dumps(log))
    assert clone.secrets_for(bytes.fromhex(CR2)) == {"CLIENT_RANDOM": bytes.fromhex(MASTER)}


def test_text_dsb_and_merge() -> None:
    a = keylog_from_text(f"CLIENT_RANDOM {CR1} {MASTER}\n")
    b = keylog_from_dsb(f"CLIENT_RANDOM {CR2} {MASTER}\n".encode() + b"\x00\x00", capture="x.pcapng", block=1)
    assert "decryption secrets block 1" in b.source
    both = a.merged(b)
    assert len(both) == 2 and len(a) == 1
    with pytest.raises(KeylogError, match=r"x\.pcapng"):
        keylog_from_dsb(b"\x00\x00\x00\x00", capture="x.pcapng")


def test_real_wireshark_key_log() -> None:
    path = CONFORMANCE / "fingerprints" / "wireshark" / "keys" / "tls13-rfc8446.keys"
    if not path.exists():
        pytest.skip("conformance data not available")
    log = read_keylog(path)
    assert len(log) == 2
    assert log.label_counts == {
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET": 2, "SERVER_HANDSHAKE_TRAFFIC_SECRET": 2,
        "CLIENT_TRAFFIC_SECRET_0": 2, "SERVER_TRAFFIC_SECRET_0": 2, "CLIENT_EARLY_TRAFFIC_SECRET": 1,
    }


def test_windows_line_endings_and_byte_order_mark(tmp_path: Path) -> None:
    p = tmp_path / "win.log"
    p.write_bytes(b"\xef\xbb\xbf" + f"CLIENT_RANDOM {CR1} {MASTER}\r\nCLIENT_RANDOM {CR2} {MASTER}\r\n".encode())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        log = read_keylog(p)
    assert len(log) == 2 and log.skipped == 0


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400) | st.binary(max_size=400))
def test_arbitrary_text_gives_a_keylog_or_keylog_error(data: str | bytes) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        try:
            log = keylog_from_text(data)
        except KeylogError:
            return
    assert "secrets redacted" in repr(log)  # usable lines found (CLIENT_RANDOM-style or RSA)
