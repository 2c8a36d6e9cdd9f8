"""Bad input and a broken environment: each gets a typed error or a warning with partial
results, naming the file and what to do, from both engines where the case applies.

Every bad file is made here in tmp_path: empty/text/header-only files from bytes, damaged
captures by cutting or patching a copy of a public capture (conformance/zeek/traces/tls1.2.pcap,
one TLS 1.2 connection, Ethernet/IPv4, classic pcap).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

import tlskit
from tests.conftest import CONFORMANCE, requires_tshark
from tlskit.errors import CaptureError, CaptureWarning, KeylogError, TsharkNotFound, TsharkTooOld
from tlskit.schema import CONNECTIONS, MESSAGES

TLS12 = CONFORMANCE / "zeek" / "traces" / "tls1.2.pcap"
TLS13 = CONFORMANCE / "fingerprints" / "wireshark" / "tls13-rfc8446.pcap"
TLS13_KEYS = CONFORMANCE / "fingerprints" / "wireshark" / "keys" / "tls13-rfc8446.keys"
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # Ethernet, no packets

ENGINES = [
    pytest.param("native", id="native"),
    pytest.param("tshark", id="tshark", marks=[requires_tshark, pytest.mark.tshark]),
]


def _load(path: Path, engine: str, **kw: object) -> tlskit.Capture:
    return tlskit.load(path, engine=engine, progress=False, **kw)  # type: ignore[arg-type]


def _frames(data: bytes) -> list[tuple[int, int]]:
    """(offset of packet data, captured length) of each record of a classic pcap."""
    out, off = [], 24
    while off + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, off + 8)[0]
        out.append((off + 16, caplen))
        off += 16 + caplen
    return out


def _tcp_payload_offset(data: bytes, frame: int) -> int:
    pkt, _ = _frames(data)[frame - 1]
    ip = pkt + 14
    tcp = ip + (data[ip] & 0x0F) * 4
    return tcp + (data[tcp + 12] >> 4) * 4


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ----------------------------------------------------------------------------- unusable files


@pytest.mark.parametrize("engine", ENGINES)
def test_missing_file(tmp_path: Path, engine: str) -> None:
    with pytest.raises(CaptureError, match=r"nothere\.pcap: .*not found|nothere\.pcap: no such file") as err:
        _load(tmp_path / "nothere.pcap", engine)
    assert err.value.fix and err.value.path == str(tmp_path / "nothere.pcap")


@pytest.mark.parametrize("engine", ENGINES)
def test_directory(tmp_path: Path, engine: str) -> None:
    with pytest.raises(CaptureError, match="directory") as err:
        _load(tmp_path, engine)
    assert err.value.path == str(tmp_path) and err.value.fix


@pytest.mark.parametrize("engine", ENGINES)
def test_text_file(tmp_path: Path, engine: str) -> None:
    notes = _write(tmp_path, "notes.pcap", b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
    with pytest.raises(CaptureError, match=r"notes\.pcap: .*(text file|not a pcap)") as err:
        _load(notes, engine)
    assert "pcap" in (err.value.fix or "")


@pytest.mark.parametrize("engine", ENGINES)
def test_empty_file(tmp_path: Path, engine: str) -> None:
    with pytest.raises(CaptureError, match=r"empty\.pcap: .*empty \(0 bytes\)") as err:
        _load(_write(tmp_path, "empty.pcap", b""), engine)
    assert "capture again" in (err.value.fix or "")


# ----------------------------------------------------------------------------- partial results


@pytest.mark.parametrize("engine", ENGINES)
def test_capture_without_packets_gives_empty_tables_and_a_warning(tmp_path: Path, engine: str) -> None:
    path = _write(tmp_path, "nopackets.pcap", PCAP_HEADER)
    with pytest.warns(CaptureWarning, match=r"nopackets\.pcap: no TLS connection found"):
        cap = _load(path, engine)
    assert cap.connections.empty and cap.messages.empty
    assert list(cap.connections.columns) == CONNECTIONS.names
    assert list(cap.messages.columns) == MESSAGES.names


@pytest.mark.parametrize("engine", ENGINES)
def test_capture_without_tls_warns(tmp_path: Path, engine: str) -> None:
    # the TCP handshake and the first ACK of tls1.2.pcap: TCP, but no TLS byte
    data = TLS12.read_bytes()
    frames = _frames(data)
    end = frames[2][0] + frames[2][1]
    path = _write(tmp_path, "plain-tcp.pcap", data[:end])
    with pytest.warns(CaptureWarning, match=r"plain-tcp\.pcap: no TLS connection found.*right interface"):
        cap = _load(path, engine)
    assert cap.connections.empty


@pytest.mark.parametrize("engine", ENGINES)
def test_truncated_capture_warns_and_keeps_the_packets_before(tmp_path: Path, engine: str) -> None:
    data = TLS12.read_bytes()
    pkt, caplen = _frames(data)[7]  # cut inside frame 8 (the server's Certificate)
    path = _write(tmp_path, "cut.pcap", data[: pkt + caplen // 2])
    with pytest.warns(CaptureWarning, match=r"cut\.pcap: .*(cut short|incomplete last packet)"):
        cap = _load(path, engine)
    assert len(cap.connections) == 1
    row = cap.connections.iloc[0]
    assert row["sni"] is pd_na() or row["client_max_version"] == 0x0303
    types = cap.messages["handshake_type"].dropna().astype(int).tolist()
    assert types[:2] == [1, 2] and 11 not in types and not bool(row["established"])


@pytest.mark.parametrize("engine", ENGINES)
def test_damaged_packet_header_keeps_what_came_before(tmp_path: Path, engine: str) -> None:
    data = bytearray(TLS12.read_bytes())
    pkt, _ = _frames(bytes(data))[7]
    struct.pack_into("<II", data, pkt - 8, 0xFFFFFFF0, 0xFFFFFFF0)  # frame 8 claims 4 GB
    path = _write(tmp_path, "damaged.pcap", bytes(data))
    with pytest.warns(CaptureWarning, match=r"damaged\.pcap: "):
        cap = _load(path, engine)
    assert cap.messages["handshake_type"].dropna().astype(int).tolist()[:2] == [1, 2]


@pytest.mark.parametrize("engine", ENGINES)
def test_garbled_tls_record_is_noted_and_the_rest_kept(tmp_path: Path, engine: str) -> None:
    # frame 10 starts with the client's ClientKeyExchange record; overwrite its header with junk
    data = bytearray(TLS12.read_bytes())
    off = _tcp_payload_offset(bytes(data), 10)
    assert data[off : off + 3] == b"\x16\x03\x03"
    data[off : off + 5] = b"\x99\x98\x97\x96\x95"
    cap = _load(_write(tmp_path, "garbled.pcap", bytes(data)), engine)
    assert len(cap.connections) == 1  # a garbled record is a remark on the connection, not a crash
    row = cap.connections.iloc[0]
    assert int(row["version"]) == 0x0303 and int(row["cipher_suite"]) == 0x0004  # read before the damage
    assert any("garbled TLS record at frame 10" in note for note in row["notes"])
    types = cap.messages["handshake_type"].dropna().astype(int).tolist()
    assert types == [1, 2, 11, 14]  # the ClientKeyExchange is lost, nothing invented


def pd_na() -> object:
    import pandas as pd

    return pd.NA


def pd_isna(value: object) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


# ----------------------------------------------------------------------------- key logs


@pytest.mark.parametrize("engine", ENGINES)
def test_keylog_with_junk_lines_warns_and_still_decrypts(tmp_path: Path, engine: str) -> None:
    keys = _write(tmp_path, "keys.log", b"# comment\nnot a key line\n" + TLS13_KEYS.read_bytes() + b"CLIENT_RANDOM 00\n")
    with pytest.warns(CaptureWarning, match=r"keys\.log: skipped 2 malformed key log line"):
        cap = _load(TLS13, engine, keylog=keys)
    assert (cap.certificates["side"] == "server").any()


@pytest.mark.parametrize("engine", ENGINES)
def test_keylog_missing_or_useless(tmp_path: Path, engine: str) -> None:
    with pytest.raises(KeylogError, match=r"absent\.log: key log file not found") as err:
        _load(TLS13, engine, keylog=tmp_path / "absent.log")
    assert err.value.fix
    junk = _write(tmp_path, "junk.log", b"hello\nworld\n")
    with pytest.raises(KeylogError, match=r"junk\.log: no usable key log line"):
        _load(TLS13, engine, keylog=junk)


# ----------------------------------------------------------------------------- tshark itself


def test_tshark_missing_from_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TLSKIT_TSHARK", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no tshark on it
    with pytest.raises(TsharkNotFound, match=r"tshark was not found on PATH.*apt-get install -y tshark"):
        _load(TLS12, "tshark")
    assert len(_load(TLS12, "native").connections) == 1  # the native engine needs no tshark


def test_tshark_too_old(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "tshark"
    fake.write_text('#!/bin/sh\necho "TShark (Wireshark) 2.6.20 (Git v2.6.20 packaged as 2.6.20-1)"\n')
    fake.chmod(0o755)
    monkeypatch.delenv("TLSKIT_TSHARK", raising=False)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    with pytest.raises(TsharkTooOld, match=r"tshark 2\.6\.20 is older than the 3\.6\.0") as err:
        _load(TLS12, "tshark")
    assert err.value.path == str(fake) and "apt-get" in (err.value.fix or "")


def test_tlskit_tshark_pointing_nowhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TLSKIT_TSHARK", str(tmp_path / "no-such-tshark"))
    with pytest.raises(TsharkNotFound, match="TLSKIT_TSHARK points to no executable"):
        _load(TLS12, "tshark")


@requires_tshark
def test_tshark_failing_on_a_file_is_one_line(tmp_path: Path) -> None:
    # a pcapng whose section header block claims an impossible length: tshark refuses the file
    bad = _write(tmp_path, "bad.pcapng", b"\x0a\x0d\x0d\x0a" + struct.pack("<I", 12) + b"\x4d\x3c\x2b\x1a" + b"\x00" * 40)
    with pytest.raises(CaptureError) as err:
        _load(bad, "tshark")
    message = str(err.value)
    assert message.startswith(f"{bad}: tshark could not read it: ") and "SHB" in message
    assert "\n" not in message and "Fix:" in message
