"""TsharkEngine: the events it yields from real captures, with the real tshark.

Inputs are the public captures under conformance/ (read in place, never copied) and, for
TLS on ports tshark does not associate with TLS, copies of one of them written to tmp_path
with the server port rewritten (``_with_server_port``: the bytes of every packet stay the
same apart from the two port fields).
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

import tlskit
from tests.conftest import CONFORMANCE, requires_tshark
from tlskit.capture._events import FIN, RST, SYN, TcpPacket, TlsUnit
from tlskit.capture._tshark import TsharkEngine, check_keylog_file
from tlskit.errors import CaptureError, CaptureWarning, KeylogError

pytestmark = [requires_tshark, pytest.mark.tshark]

WS = CONFORMANCE / "fingerprints" / "wireshark"
ZEEK = CONFORMANCE / "zeek" / "traces"


def _events(path: Path, keylog: Path | None = None) -> list[TcpPacket | TlsUnit]:
    return list(TsharkEngine(path, keylog).events())


def _units(events: list[TcpPacket | TlsUnit]) -> list[TlsUnit]:
    return [e for e in events if isinstance(e, TlsUnit)]


def _handshake_types(events: list[TcpPacket | TlsUnit]) -> list[int]:
    return [u.body[0] for u in _units(events) if u.content_type == 22 and u.body and not u.sslv2]


def _children() -> list[str]:
    """Commands of this process's live children (tshark runs in its own session, but is ours)."""
    me = str(os.getpid())
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == me and fields[0] != "Z":
            out.append(stat.parent.joinpath("comm").read_text().strip())
    return out


def _with_server_port(src: Path, old: int, new: int, dst: Path) -> Path:
    """Copy a classic Ethernet/IPv4 pcap, replacing TCP port `old` by `new` in every packet."""
    data = bytearray(src.read_bytes())
    assert data[:4] == b"\xd4\xc3\xb2\xa1" and struct.unpack_from("<I", data, 20)[0] == 1
    off = 24
    while off + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, off + 8)[0]
        pkt = off + 16
        if data[pkt + 12 : pkt + 14] == b"\x08\x00" and data[pkt + 23] == 6:
            tcp = pkt + 14 + (data[pkt + 14] & 0x0F) * 4
            for field in (tcp, tcp + 2):
                if struct.unpack_from("!H", data, field)[0] == old:
                    struct.pack_into("!H", data, field, new)
        off = pkt + caplen
    dst.write_bytes(bytes(data))
    return dst


def test_tls13_with_keylog_shows_decrypted_server_flight() -> None:
    events = _events(WS / "tls13-rfc8446.pcap", WS / "keys" / "tls13-rfc8446.keys")
    first = [u for u in _units(events) if u.sport == 443][:6]
    # ServerHello in clear, the compat CCS, then the encrypted flight decrypted message by message
    assert [(u.content_type, u.body[0] if u.body else None) for u in first] == [
        (22, 2), (20, 1), (22, 8), (22, 11), (22, 15), (22, 20),
    ]
    assert [(u.encrypted, u.decrypted) for u in first] == [(False, False), (False, False)] + [(True, True)] * 4
    cert = first[3]
    assert cert.length == len(cert.body) - 4 == 312
    assert (cert.src, cert.dst, cert.dport) == ("10.9.0.2", "10.9.0.1", 38288)


def test_tls13_without_keys_marks_records_opaque() -> None:
    events = _events(WS / "tls13-rfc8446.pcap")
    server = [u for u in _units(events) if u.sport == 443 and u.stream == 0]
    assert server[0].body is not None and server[0].body[0] == 2
    assert server[2].body is None and server[2].content_type == 23 and server[2].encrypted
    assert not any(u.decrypted for u in _units(events))
    assert 11 not in _handshake_types(events)


def test_tls12_encrypted_finished_without_keys_and_with_embedded_secrets() -> None:
    plain = _units(_events(ZEEK / "tls1.2.pcap"))
    fin = [u for u in plain if u.content_type == 22 and u.body is None]
    assert len(fin) == 2 and all(u.encrypted and not u.decrypted for u in fin)
    # tls12-dsb.pcapng carries its secrets in a Decryption Secrets Block: tshark uses them
    dsb = _units(_events(WS / "tls12-dsb.pcapng"))
    finished = [u for u in dsb if u.content_type == 22 and u.body and u.body[0] == 20]
    assert finished and all(u.encrypted and u.decrypted for u in finished)


def test_events_come_in_frame_order_per_connection() -> None:
    events = _events(ZEEK / "tls-conn-with-extensions.pcap")
    by_stream: dict[int, list[tuple[int, int]]] = {}
    for e in events:
        by_stream.setdefault(e.stream, []).append((e.frame, 0 if isinstance(e, TcpPacket) else 1))
    assert set(by_stream) == {0}
    assert by_stream[0] == sorted(by_stream[0])  # a packet before the units it completes
    first = events[0]
    assert isinstance(first, TcpPacket) and first.flags & SYN and first.payload_len == 0


def test_only_packets_that_matter_are_passed_on() -> None:
    # first and last packet, SYN/FIN/RST and retransmissions; plain ACKs in between are not
    events = _events(ZEEK / "tls1.2.pcap")
    packets = [e for e in events if isinstance(e, TcpPacket)]
    frames = subprocess.run(
        ["tshark", "-n", "-r", str(ZEEK / "tls1.2.pcap"), "-T", "fields", "-e", "frame.number"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    assert packets[0].frame == 1 and packets[-1].frame == int(frames[-1])
    assert all(p.flags & (SYN | FIN | RST) or p.retransmission for p in packets[1:-1])
    assert len(packets) < len(frames)


def test_handshake_fragmented_over_records_is_reassembled_once() -> None:
    # Wireshark's test file: 1000 ClientHellos cut into record fragments of every size
    events = _events(WS / "tls-fragmented-handshakes.pcap.gz")
    types = _handshake_types(events)
    assert len(types) == 1000 and set(types) == {1}
    assert all(len(u.body or b"") == u.length + 4 for u in _units(events) if u.content_type == 22 and u.body)


def test_handshake_after_a_record_tshark_cannot_reassemble_still_arrives() -> None:
    # A 350 kB Certificate (10,000 SANs) over 240 records: tshark 4.0 gives up reassembling
    # it ("Encrypted Handshake Message"), a known tshark limit; the native engine reads it.
    # The messages after it must still come through, in order.
    types = _handshake_types(_events(ZEEK / "tls-fragmented-handshake.pcap"))
    assert types == [1, 2, 12, 14]


@pytest.mark.parametrize(("port", "decode_as"), [(80, True), (3389, False), (9000, False), (3000, False)])
def test_tls_on_any_port_is_found_by_content(tmp_path: Path, port: int, decode_as: bool) -> None:
    # 80 belongs to the HTTP dissector: tshark needs decode-as there; on 3389 (RDP) and
    # unassigned ports its TLS heuristics find the records by themselves.
    moved = _with_server_port(ZEEK / "tls1.2.pcap", 443, port, tmp_path / f"tls-on-{port}.pcap")
    engine = TsharkEngine(moved)
    events = list(engine.events())
    assert _handshake_types(events) == [1, 2, 11, 14, 16]
    assert engine.decode_ports == ([port] if decode_as else [])
    assert {u.dport for u in _units(events) if u.content_type == 22 and u.body and u.body[0] == 1} == {port}


def test_tls_on_a_port_tshark_knows_needs_no_decode_as() -> None:
    engine = TsharkEngine(ZEEK / "tls1.2.pcap")
    assert _handshake_types(list(engine.events())) == [1, 2, 11, 14, 16]
    assert engine.decode_ports == []


def test_sslv2_client_hello_is_an_sslv2_unit() -> None:
    units = _units(_events(ZEEK / "ssl-v2.pcap"))
    hello = units[0]
    assert hello.sslv2 and hello.content_type == 22 and hello.body is not None
    assert hello.body[0] == 1 and hello.record_version == 0x0002 and hello.length == len(hello.body)
    server = next(u for u in units if u.body and u.body[0] == 4)
    assert server.sslv2 and server.record_version == 0x0002
    # SSLv3-capable SSLv2-format hello (ssl.v3.pcap): the version the client asks for
    v3 = _units(_events(ZEEK / "ssl.v3.pcap"))[0]
    assert v3.sslv2 and v3.record_version == 0x0301


def test_starttls_names_the_protocol_before_tls() -> None:
    units = _units(_events(ZEEK / "imap-starttls.pcap"))
    assert units and {u.starttls for u in units} == {"imap"}
    assert {u.starttls for u in _units(_events(ZEEK / "tls1.2.pcap"))} == {None}


def test_alerts_are_two_byte_units() -> None:
    units = _units(_events(ZEEK / "tls-1.2-handshake-failure.pcap"))
    alert = next(u for u in units if u.content_type == 21)
    assert alert.body == bytes([2, 40]) and alert.length == 2 and not alert.encrypted


def test_retransmissions_follow_the_schema_rule() -> None:
    # bytes (or a SYN/FIN) already sent count; tshark's own tcp.analysis flags disagree on
    # both files below (see _Seq), the native engine agrees
    aborted = _events(ZEEK / "tls13draft16-chrome55.0.2879.0-canary-aborted.pcap")
    assert [(p.frame, p.flags & FIN) for p in aborted if isinstance(p, TcpPacket) and p.retransmission] == [(10, FIN), (22, FIN)]
    # a one-byte segment, then a segment re-sending that byte with 20 more: one retransmission
    resend = _events(WS / "retrans-tls.pcap")
    assert [p.frame for p in resend if isinstance(p, TcpPacket) and p.retransmission] == [2]


def test_truncated_capture_warns_and_keeps_what_came_before(tmp_path: Path) -> None:
    full = (WS / "tls13-rfc8446.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(full[:3000])
    with pytest.warns(CaptureWarning, match=r"cut\.pcap.*cut short"):
        events = _events(cut)
    assert _handshake_types(events)[:2] == [1, 2]


def test_keylog_with_junk_lines_warns_once_and_still_decrypts(tmp_path: Path) -> None:
    keys = tmp_path / "keys.log"
    keys.write_text("this is not a key\n" + (WS / "keys" / "tls13-rfc8446.keys").read_text() + "\nCLIENT_RANDOM zz\n")
    with pytest.warns(CaptureWarning) as caught:
        cap = tlskit.load(WS / "tls13-rfc8446.pcap", keylog=keys, engine="tshark", progress=False)
    junk = [w for w in caught if "malformed key log line" in str(w.message)]
    assert len(junk) == 1 and "keys.log: skipped 2 malformed key log line(s), first at line 1" in str(junk[0].message)
    assert (cap.certificates["side"] == "server").any()
    assert 11 in _handshake_types(_events(WS / "tls13-rfc8446.pcap", keys))  # the engine alone decrypts too


def test_keylog_without_any_secret_is_an_error(tmp_path: Path) -> None:
    keys = tmp_path / "notkeys.txt"
    keys.write_text("hello\nworld\n")
    with pytest.raises(KeylogError, match=r"notkeys\.txt: no usable key log line"):
        check_keylog_file(keys)
    with pytest.raises(KeylogError, match="not found"):
        _events(WS / "tls13-rfc8446.pcap", tmp_path / "missing.keys")


def test_stopping_early_leaves_no_tshark_running() -> None:
    gen = TsharkEngine(CONFORMANCE / "fingerprints" / "ja4" / "http2-with-cookies.pcapng").events()
    next(gen)
    assert "tshark" in _children()  # the passes are running while events are consumed
    gen.close()
    assert "tshark" not in _children()


def test_keyboard_interrupt_kills_tshark() -> None:
    engine = TsharkEngine(CONFORMANCE / "fingerprints" / "ja4" / "http2-with-cookies.pcapng")
    started = threading.Event()

    def interrupt() -> None:
        started.wait()
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    seen = 0
    with pytest.raises(KeyboardInterrupt):
        for _ in engine.events():
            seen += 1
            started.set()
            time.sleep(0.01)  # a slow consumer: the interrupt lands mid-read
    assert seen > 0
    assert "tshark" not in _children()


def test_timeout_kills_tshark_and_says_so() -> None:
    engine = TsharkEngine(CONFORMANCE / "fingerprints" / "ja4" / "http2-with-cookies.pcapng", timeout=0.001)
    with pytest.raises(CaptureError, match="did not finish within"):
        list(engine.events())
    assert "tshark" not in _children()
