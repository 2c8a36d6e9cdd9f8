"""TCP reassembly, TLS recognition by content, STARTTLS and the record layer (synthetic flows
through the native engine and the builder)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from tests.unit._native_pcap import (
    ACK,
    PSH,
    SYN,
    Flow,
    Packet,
    alert,
    client_hello,
    hs,
    record,
    records,
    server_hello,
    tls12_handshake,
    tls_flow,
    write_pcap,
)
from tlskit.capture._builder import build_tables
from tlskit.capture._events import TlsUnit
from tlskit.capture._native import NativeEngine


def run(tmp_path: Path, packets: list[Packet], link: str = "ether") -> tuple[list[TlsUnit], pd.DataFrame, pd.DataFrame]:
    path = write_pcap(tmp_path / "t.pcap", packets, link)
    events = list(NativeEngine(path).events())
    m, c, _x = build_tables(iter(events))
    return [e for e in events if isinstance(e, TlsUnit)], m, c


def hs_types(units: list[TlsUnit]) -> list[int]:
    return [u.body[0] for u in units if u.content_type == 22 and u.body]


def test_full_tls12_handshake_on_an_odd_port(tmp_path: Path) -> None:
    flow = tls_flow(tls12_handshake(), server=("10.0.0.2", 3000))
    units, m, c = run(tmp_path, flow.packets)
    assert hs_types(units) == [1, 2, 11, 14, 16]
    row = c.iloc[0]
    assert (row.client_ip, row.client_port, row.server_port) == ("10.0.0.1", 50000, 3000)
    assert row.established and row.sni == "example.com" and row.version_name == "TLSv1.2"
    assert row.tcp_end == "fin" and row.tcp_end_by == "client"
    assert list(m["direction"][:2]) == ["c2s", "s2c"]
    assert m["encrypted"].sum() == 2  # the two Finished; application data after completion is not listed


def test_out_of_order_and_retransmitted_segments(tmp_path: Path) -> None:
    script = tls12_handshake()
    flow = Flow().handshake()
    flow.send("c", script[0][1], mss=30)  # ClientHello over several segments
    p = flow.packets
    p[4], p[5] = p[5], p[4]  # reorder two of them
    p.insert(6, Packet(p[6].time, p[6].src, p[6].sport, p[6].dst, p[6].dport, PSH | ACK, p[6].seq, p[6].payload))
    for side, data in script[1:]:
        flow.send(side, data)
    flow.close()
    units, _m, c = run(tmp_path, flow.packets)
    assert hs_types(units) == [1, 2, 11, 14, 16]
    assert c.iloc[0].retransmissions == 1
    assert c.iloc[0].established


def test_big_client_hello_over_records_and_segments(tmp_path: Path) -> None:
    ch = client_hello(padding=3000, versions=(0x0304, 0x0303))  # a post-quantum-sized hello
    flow = Flow().handshake()
    flow.send("c", records(22, ch, 1000, 0x0301), mss=700)
    flow.send("s", record(22, server_hello(version=0x0304, suite=0x1301)) + record(20, b"\x01") + record(23, b"\x01" * 900))
    flow.close()
    units, m, c = run(tmp_path, flow.packets)
    first = units[0]
    assert first.body == ch and first.length == len(ch) - 4
    assert c.iloc[0].version_name == "TLSv1.3"
    assert m.iloc[0].frame == 4 + len(records(22, ch, 1000)) // 700  # the frame with the last byte


def test_several_records_per_segment(tmp_path: Path) -> None:
    flow = tls_flow([("c", record(22, client_hello())), ("s", record(21, alert(2, 40)) + record(21, alert(1, 0)))])
    units, _m, c = run(tmp_path, flow.packets)
    assert [u.content_type for u in units] == [22, 21, 21]
    assert c.iloc[0].alert_name == "handshake_failure" and c.iloc[0].alert_from == "server"
    assert c.iloc[0].last_alert_name == "close_notify"


def test_capture_loss_is_noted_and_parsing_resumes(tmp_path: Path) -> None:
    flow = Flow().handshake()
    flow.send("c", record(22, client_hello()))
    flow.send("s", record(22, server_hello()), mss=1460)
    flow.send("s", record(23, b"\x00" * 2000), mss=1000)  # middle segment will be lost
    flow.send("s", record(21, alert(2, 42)))
    lost = flow.packets[6]
    packets = [p for p in flow.packets if p is not lost]
    for _ in range(70):  # the client keeps talking while the server stream waits for the gap
        packets.append(Packet(packets[-1].time + 0.001, "10.0.0.1", 50000, "10.0.0.2", 443, ACK, 0))
    units, _m, c = run(tmp_path, packets)
    assert [u.content_type for u in units][-1] == 21
    assert any("capture loss" in n for n in c.iloc[0].notes)
    assert c.iloc[0].alert_name == "bad_certificate"


def test_mid_stream_start_finds_a_record_boundary(tmp_path: Path) -> None:
    flow = Flow().handshake()
    flow.send("s", record(23, b"\x00" * 3000), mss=1000)  # capture starts in the middle of this record
    flow.send("s", record(23, b"\x00" * 50) + record(21, alert(2, 80)))
    units, _m, c = run(tmp_path, flow.packets[4:])
    assert [u.content_type for u in units] == [23, 21]
    row = c.iloc[0]
    assert row.partial and pd.isna(row.tcp_syn_time)
    assert row.alert_name == "internal_error"


def test_reused_tuple_after_fin_is_a_new_connection(tmp_path: Path) -> None:
    one = tls_flow([("c", record(22, client_hello("a.example"))), ("s", record(21, alert(2, 40)))])
    two = tls_flow([("c", record(22, client_hello("b.example"))), ("s", record(21, alert(2, 70)))],
                   t=one.t + 1, isn=(9000, 7000))
    _u, _m, c = run(tmp_path, one.packets + two.packets)
    assert list(c["sni"]) == ["a.example", "b.example"]
    assert list(c["conn_id"]) == [0, 1]
    assert list(c["alert_name"]) == ["handshake_failure", "protocol_version"]


def test_non_tls_traffic_makes_no_connection(tmp_path: Path) -> None:
    flow = Flow(server=("10.0.0.2", 80)).handshake()
    flow.send("c", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    flow.send("s", b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 100_000)
    flow.close()
    units, m, c = run(tmp_path, flow.packets)
    assert units == [] and c.empty and m.empty


@pytest.mark.parametrize(
    ("client_cmd", "server_reply", "proto"),
    [
        (b"EHLO me\r\nSTARTTLS\r\n", b"220 2.0.0 Ready to start TLS\r\n", "smtp"),
        (b"a1 STARTTLS\r\n", b"a1 OK Begin TLS negotiation now\r\n", "imap"),
        (b"STLS\r\n", b"+OK Begin TLS\r\n", "pop3"),
        (b"AUTH TLS\r\n", b"234 AUTH TLS successful\r\n", "ftp"),
        (b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", b"<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>", "xmpp"),
        (b"\x00\x00\x00\x08\x04\xd2\x16\x2f", b"S", "postgresql"),
    ],
)
def test_starttls_upgrades(tmp_path: Path, client_cmd: bytes, server_reply: bytes, proto: str) -> None:
    flow = Flow(server=("10.0.0.2", 2525)).handshake()
    flow.send("s", b"220 mail.example ESMTP\r\n" if proto in ("smtp", "ftp") else b"* OK ready\r\n")
    flow.send("c", client_cmd)
    flow.send("s", server_reply)
    for side, data in tls12_handshake():
        flow.send(side, data)
    flow.close()
    units, _m, c = run(tmp_path, flow.packets)
    assert hs_types(units)[:2] == [1, 2]
    assert c.iloc[0].starttls == proto
    assert c.iloc[0].established


def test_garbled_record_is_noted_and_skipped(tmp_path: Path) -> None:
    script = tls12_handshake()
    side, data = script[2]
    script[2] = (side, data[:-45] + b"\x14\xff\xff\xff\x01" + data[-40:])  # damage the CCS header
    flow = tls_flow(script)
    _units, _m, c = run(tmp_path, flow.packets)
    row = c.iloc[0]
    assert any("garbled TLS record" in n for n in row.notes)
    assert not row.established  # the client's ChangeCipherSpec is gone


def test_sslv2_client_hello(tmp_path: Path) -> None:
    body = b"\x01\x03\x01" + (3).to_bytes(2, "big") + (0).to_bytes(2, "big") + (16).to_bytes(2, "big") + b"\x00\x00\x2f" + b"\xab" * 16
    msg = bytes([0x80 | (len(body) >> 8), len(body) & 0xFF]) + body
    flow = tls_flow([("c", msg), ("s", record(22, server_hello(suite=0x002F), 0x0301))])
    units, _m, c = run(tmp_path, flow.packets)
    assert units[0].sslv2 and units[0].record_version == 0x0301
    assert c.iloc[0].offered_ciphers == [0x2F]
    assert c.iloc[0].cipher_suite == 0x2F


@pytest.mark.parametrize("link", ["vlan", "sll2", "null_le", "raw"])
def test_link_layers_end_to_end(tmp_path: Path, link: str) -> None:
    flow = tls_flow(tls12_handshake(), client=("2001:db8::5", 51000), server=("2001:db8::6", 8443))
    _u, _m, c = run(tmp_path, flow.packets, link)
    assert c.iloc[0].client_ip == "2001:db8::5" and c.iloc[0].established


def test_bulk_data_is_skipped_but_the_last_record_is_kept(tmp_path: Path) -> None:
    flow = Flow().handshake()
    for side, data in tls12_handshake()[:4]:
        flow.send(side, data)
    for _ in range(40):
        flow.send("s", record(23, b"\x00" * 4000))
    flow.send("s", record(21, b"\x01" * 26))  # encrypted alert after CCS
    flow.close("s")
    path = write_pcap(tmp_path / "b.pcap", flow.packets)
    events = list(NativeEngine(path).events())
    opaque = [e for e in events if isinstance(e, TlsUnit) and e.content_type == 23]
    assert 16 <= len(opaque) < 40
    _m, c, _x = build_tables(iter(events))
    assert c.iloc[0].end_time == pd.Timestamp(flow.packets[-1].time, unit="s", tz="UTC").round("us")


def test_syn_without_payload_only_is_not_tls(tmp_path: Path) -> None:
    flow = Flow()
    flow.add("c", SYN)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        units, _m, c = run(tmp_path, flow.packets)
    assert units == [] and c.empty


def test_handshake_message_across_records_with_other_messages(tmp_path: Path) -> None:
    msgs = server_hello() + hs(11, b"\x00\x00\x00") + hs(14, b"")
    flow = tls_flow([("c", record(22, client_hello())), ("s", records(22, msgs, 7))])
    units, _m, _c = run(tmp_path, flow.packets)
    assert hs_types(units) == [1, 2, 11, 14]


def test_tcp_fast_open_data_on_syn_counts_once(tmp_path: Path) -> None:
    ch = record(22, client_hello())
    flow = Flow()
    flow.add("c", SYN, ch)  # TFO: the ClientHello rides on the SYN, after its sequence number
    flow.add("s", SYN | ACK)
    flow.add("c", SYN, seq=flow.isn[0])  # a retransmitted bare SYN must not rewind the stream
    flow.add("c", PSH | ACK, ch, seq=flow.isn[0] + 1)  # the server ignored the SYN data: sent again
    flow.send("s", record(22, server_hello()) + record(21, alert(2, 40)))
    flow.close()
    units, m, c = run(tmp_path, flow.packets)
    assert hs_types(units) == [1, 2]
    assert m.iloc[0].frame == 1
    assert c.iloc[0].retransmissions == 2  # the SYN and the ClientHello, each once more


def test_fin_retransmission_is_counted(tmp_path: Path) -> None:
    flow = tls_flow([("c", record(22, client_hello())), ("s", record(21, alert(2, 40)))])
    last = flow.packets[-1]
    flow.packets.append(Packet(last.time + 0.2, last.src, last.sport, last.dst, last.dport, last.flags, last.seq))
    _u, _m, c = run(tmp_path, flow.packets)
    assert c.iloc[0].retransmissions == 1
