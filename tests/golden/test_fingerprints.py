"""JA3 / JA3S / JA4 of every TCP capture in conformance/fingerprints equal what upstream tools computed.

Expected values come from ``expected.json`` (FoxIO JA4 python and rust test data, Arkime's
capture regression output, suricata-verify checks). Rows that name a flow are joined on the
4-tuple (client ip/port, server ip/port); suricata checks name none and are compared per file.
Both engines are held to the same values.

Exceptions, each with its reason, are listed in EXCLUDED / KNOWN below.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import CONFORMANCE, requires_tshark

FP = CONFORMANCE / "fingerprints"
EXPECTED: dict[str, Any] = json.loads((FP / "expected.json").read_text()) if (FP / "expected.json").exists() else {}

# Whole captures outside tlskit's scope.
EXCLUDED = {
    "arkime/cloudshark-dtls1.pcap": "DTLS over UDP: tlskit reads TLS over TCP only",
    "arkime/wireshark-dtls0.pcap": "DTLS over UDP",
    "arkime/wireshark-dtls12.pcap": "DTLS over UDP",
    "arkime/quicietf.pcap": "QUIC (TLS inside QUIC CRYPTO frames over UDP)",
    "arkime/https3-301-get.pcap": "HTTP/3 over QUIC",
    "ja4/https3-301-get.pcap": "HTTP/3 over QUIC",
    "ja4/dtls-udp.notest.cap": "DTLS over UDP",
    "ja4/quic-tls-handshake.pcapng": "QUIC",
    "ja4/quic-with-several-tls-frames.pcapng": "QUIC",
    "suricata-verify/ja4-quic__input.pcap": "QUIC",
}

# (capture, fingerprint kind, expected value) -> (engines it applies to, reason). The test
# checks that the reason still holds: the listed engines give a different value.
SPEC_JA4_5713 = "t10i070600_c50f5591e341_c39ab67fec8e"
KNOWN: dict[tuple[str, str, str], tuple[frozenset[str], str]] = {
    ("suricata-verify/bug-5713-01__TLSv1-Extracted-MaliciousC2.pcap", "ja4", "t10i070600_c50f5591e341_ce66f3b797c1"): (
        frozenset({"native", "tshark"}),
        "Suricata hashes 'extensions_' with a trailing underscore when there is no "
        "signature_algorithms extension; the JA4 spec and FoxIO's python/rust do not "
        f"(tlskit is right: {SPEC_JA4_5713}).",
    ),
}
# Expected rows that are outside the connections table's model.
SKIP_FIELDS = {
    "JA4.2": "a second ClientHello on the same stream (after a HelloRetryRequest); the "
    "connections table fingerprints the first ClientHello of each connection",
}
# Engines that cannot see some flows at all (the native engine can: it finds TLS by content).
ENGINE_BLIND = {
    ("arkime/socks4-https.pcap", "tshark"): "tshark 4.0 does not dissect TLS inside SOCKS4 on port 9901",
}


@dataclass(frozen=True)
class Expect:
    kind: str  # ja3, ja3s, ja4, ja3_string, ja3s_string
    value: str
    flow: tuple[str, int, str, int] | None  # client ip, port, server ip, port
    source: str


def _ip(text: str) -> str:
    return str(ipaddress.ip_address(text))


def _flow(src: Any, sport: Any, dst: Any, dport: Any) -> tuple[str, int, str, int] | None:
    if src is None or sport is None:
        return None
    return (_ip(src), int(sport), _ip(dst), int(dport))


def _expectations(entry: dict[str, Any]) -> Iterator[Expect]:
    exp = entry["expected"]
    for row in exp.get("ja4_python", []):
        flow = _flow(row.get("src"), row.get("srcport"), row.get("dst"), row.get("dstport"))
        if "JA4.1" in row and not row["JA4.1"].startswith(("q", "d")):
            yield Expect("ja4", row["JA4.1"], flow, "FoxIO python")
    for row in exp.get("ja4_rust", []):
        if row.get("transport") == "tcp" and "ja4" in row:
            yield Expect("ja4", row["ja4"], _flow(row["src"], row["src_port"], row["dst"], row["dst_port"]), "FoxIO rust")
    for row in exp.get("arkime_sessions", []):
        if "tcp" not in row.get("protocol", []):
            continue
        flow = _flow(row.get("src"), row.get("srcport"), row.get("dst"), row.get("dstport"))
        tls = row.get("tls") or {}
        for key, kind in (("ja4", "ja4"), ("ja3", "ja3"), ("ja3s", "ja3s"), ("ja3string", "ja3_string"), ("ja3sstring", "ja3s_string")):
            for value in tls.get(key, []):
                yield Expect(kind, value, flow, "Arkime")
    for test in exp.get("suricata_tests", []):
        for check in test.get("checks", []):
            match = check.get("match", {})
            if match.get("event_type") != "tls":
                continue
            for key, kind in (("tls.ja4", "ja4"), ("tls.ja3.hash", "ja3"), ("tls.ja3s.hash", "ja3s"), ("tls.ja3.string", "ja3_string"), ("tls.ja3s.string", "ja3s_string")):
                if key in match:
                    yield Expect(kind, match[key], None, "Suricata")


def _cases() -> list[Any]:
    out = []
    for name, entry in sorted(EXPECTED.items()):
        if name in EXCLUDED or name.startswith("wireshark/"):
            continue  # wireshark/ entries carry decryption assertions, not fingerprints
        if any(True for _ in _expectations(entry)):
            out.append(name)
    return out


def _table(name: str, engine: str) -> Any:
    import tlskit

    cap = tlskit.load(FP / name, engine=engine)
    return cap.connections


ENGINES = [pytest.param("native", id="native"), pytest.param("tshark", id="tshark", marks=requires_tshark)]


def _load_available(engine: str) -> None:
    import tlskit.capture as capture

    if not hasattr(capture, "load"):
        pytest.skip("tlskit.load is not implemented yet")


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", _cases())
def test_fingerprints_match_upstream(name: str, engine: str) -> None:
    _load_available(engine)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # partial-capture warnings do not matter here
        conns = _table(name, engine)
    by_flow: dict[tuple[str, int, str, int], Any] = {}
    values: dict[str, set[str]] = {k: set() for k in ("ja3", "ja3s", "ja4", "ja3_string", "ja3s_string")}
    for row in conns.itertuples():
        flow = (_ip(row.client_ip), int(row.client_port), _ip(row.server_ip), int(row.server_port))
        by_flow[flow] = row
        for kind in values:
            v = getattr(row, kind)
            if isinstance(v, str):
                values[kind].add(v)
    blind = ENGINE_BLIND.get((name, engine))
    failures = []
    for exp in _expectations(EXPECTED[name]):
        known = KNOWN.get((name, exp.kind, exp.value))
        if known and engine in known[0]:
            assert exp.value not in values[exp.kind], f"KNOWN exception no longer needed: {known[1]}"
            continue
        if blind:
            continue
        if exp.flow is not None and exp.flow in by_flow:
            got = getattr(by_flow[exp.flow], exp.kind)
            if got != exp.value:
                failures.append(f"{exp.source} {exp.kind} {exp.flow}: expected {exp.value}, got {got}")
        elif exp.value not in values[exp.kind]:
            where = f" for {exp.flow}" if exp.flow else ""
            failures.append(f"{exp.source} {exp.kind}{where}: {exp.value} not among {sorted(values[exp.kind])[:4]}")
    if blind:
        pytest.skip(blind)
    assert not failures, "\n".join(failures)


def test_spec_value_for_the_suricata_disagreement() -> None:
    """Where Suricata departs from the spec (KNOWN), tlskit gives the spec's value."""
    name = "suricata-verify/bug-5713-01__TLSv1-Extracted-MaliciousC2.pcap"
    _load_available("native")
    conns = _table(name, "native")
    assert SPEC_JA4_5713 in set(conns["ja4"].dropna())


def test_every_capture_is_covered_or_excluded() -> None:
    """New entries in expected.json must be tested or listed with a reason."""
    covered = set(_cases()) | set(EXCLUDED)
    for name, entry in EXPECTED.items():
        if name.startswith("wireshark/"):
            continue
        if any(True for _ in _expectations(entry)):
            assert name in covered, name
