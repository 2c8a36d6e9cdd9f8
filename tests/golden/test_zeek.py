"""Golden test: `connections` agree with Zeek's ssl.log on Zeek's own test traces.

For every trace in conformance/zeek/index.csv with a ``baselines/<trace>.ssl.log``, both
engines load the trace and each Zeek row is joined to our row with the same 4-tuple (in
order, for reused tuples). version, cipher, server_name, last_alert, established and
resumed must be equal, apart from the disagreements listed in KNOWN, each with the reason
and the side that is right.
"""

from __future__ import annotations

import csv
import warnings
from collections import defaultdict
from typing import Any

import pandas as pd
import pytest

import tlskit
from tests.conftest import CONFORMANCE, requires_tshark

ZEEK = CONFORMANCE / "zeek"
FIELDS = ("version", "cipher", "server_name", "last_alert", "established", "resumed")
Tuple4 = tuple[str, int, str, int]

_DTLS = "DTLS (UDP) is out of scope for tlskit, which reads TLS over TCP; Zeek is right"
# (trace) -> {(4-tuple, field or "missing"/"extra"): why, and which side is right}
KNOWN: dict[str, dict[tuple[Tuple4, str], str]] = {
    "dtls13-cid.pcap": {
        (("10.168.36.147", port, "10.168.36.144", 11111), "missing"): _DTLS
        for port in (57488, 47904, 52232, 56544, 58771)
    },
    "dtls1_0.pcap": {(("192.168.6.86", 63721, "104.236.167.107", 4433), "missing"): _DTLS},
    "dtls1_2.pcap": {(("192.168.17.58", 60934, "165.227.57.17", 4400), "missing"): _DTLS},
    "dtls13-wolfssl.pcap": {(("10.168.36.147", 33714, "10.168.36.144", 11111), "missing"): _DTLS},
    "webrtc-stun.pcap": {(("192.168.6.82", 51462, "74.201.205.9", 43044), "missing"): _DTLS},
    "globus-url-copy.pcap": {
        (("192.168.57.103", 60108, "192.168.57.101", 2811), "missing"):
            "GridFTP carries this handshake base64-encoded inside FTP ADAT commands, not as TLS "
            "records on TCP; out of scope, Zeek (which has a GridFTP analyzer) is right",
    },
    "tls13-ech.pcap": {
        (("192.168.20.65", 51053, "162.159.138.85", 443), "extra"):
            "a connection whose handshake precedes the capture (TLS application data only): "
            "Zeek logs no ssl row without a handshake, tlskit lists it with partial=True as "
            "its schema says (one row per TCP connection that carried TLS); tlskit is right",
    },
    "chrome-63.0.3211.0-canary-tls_experiment.pcap": {
        (("192.168.0.2", 62873, "104.196.219.53", 443), "resumed"):
            "version 0x7e01 is Chrome's TLS 1.3 experiment: the echoed session id is TLS 1.3 "
            "middlebox-compatibility mode, not a resumption (no pre_shared_key accepted). Zeek "
            "does not know 0x7e01 as TLS 1.3 and applies the TLS 1.2 session-id rule; tlskit is right",
    },
}

_VERSIONS = {0x0002: "SSLv2", 0x0300: "SSLv3", 0x0301: "TLSv10", 0x0302: "TLSv11", 0x0303: "TLSv12", 0x0304: "TLSv13"}


def _zeek_version(code: Any) -> str:
    if pd.isna(code):
        return "-"
    code = int(code)
    if code >> 8 == 0x7F:
        return f"TLSv13-draft{code & 0xFF}"
    return _VERSIONS.get(code, f"unknown-{code}")


def _text(value: Any) -> str:
    return "-" if pd.isna(value) else str(value)


def _flag(value: Any) -> str:
    return "-" if pd.isna(value) else ("T" if value else "F")


def _baseline(trace: str) -> list[dict[str, str]]:
    fields: list[str] = []
    rows = []
    for line in (ZEEK / "baselines" / f"{trace}.ssl.log").read_text().splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif line and not line.startswith("#"):
            rows.append(dict(zip(fields, line.split("\t"), strict=True)))
    return rows


def _traces() -> list[str]:
    if not (ZEEK / "index.csv").is_file():
        return []
    with (ZEEK / "index.csv").open() as fh:
        return [r["trace"] for r in csv.DictReader(fh) if (ZEEK / "baselines" / f"{r['trace']}.ssl.log").is_file()]


def disagreements(trace: str, engine: str) -> dict[tuple[Tuple4, str], tuple[str, str]]:
    """(4-tuple, field) -> (ours, Zeek's) for every difference; "missing"/"extra" for rows."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cap = tlskit.load(ZEEK / "traces" / trace, engine=engine, progress=False)
    ours: dict[Tuple4, list[dict[str, str]]] = defaultdict(list)
    for row in cap.connections.itertuples():
        ours[(row.client_ip, int(row.client_port), row.server_ip, int(row.server_port))].append({
            "version": _zeek_version(row.version),
            "cipher": _text(row.cipher_suite_name),
            "server_name": _text(row.sni),
            "last_alert": _text(row.last_alert_name),
            "established": _flag(row.established),
            "resumed": _flag(row.resumed),
        })
    out: dict[tuple[Tuple4, str], tuple[str, str]] = {}
    used: dict[Tuple4, int] = defaultdict(int)
    for z in _baseline(trace):
        key = (z["id.orig_h"], int(z["id.orig_p"]), z["id.resp_h"], int(z["id.resp_p"]))
        i = used[key]
        used[key] += 1
        if i >= len(ours[key]):
            out[(key, "missing")] = ("", "row")
            continue
        for field in FIELDS:
            if ours[key][i][field] != z[field]:
                out[(key, field)] = (ours[key][i][field], z[field])
    for key, rows in ours.items():
        if len(rows) > used[key]:
            out[(key, "extra")] = ("row", "")
    return out


ENGINES = [
    pytest.param("native", id="native"),
    pytest.param("tshark", id="tshark", marks=[requires_tshark, pytest.mark.tshark]),
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("trace", _traces())
def test_connections_agree_with_zeek(trace: str, engine: str) -> None:
    found = disagreements(trace, engine)
    assert set(found) == set(KNOWN.get(trace, {})), found


def test_the_golden_set_is_the_one_indexed() -> None:
    traces = _traces()
    assert len(traces) == 28  # every trace with an ssl.log baseline (client-certificate and ssl-v2 have none)
    assert set(KNOWN) <= set(traces)


def test_a_wrong_value_would_be_caught() -> None:
    # the comparison itself: a baseline row with another cipher must show up as a difference
    rows = _baseline("tls1.2.pcap")
    assert rows[0]["cipher"] == "TLS_RSA_WITH_RC4_128_MD5" and rows[0]["established"] == "T"
    assert _zeek_version(0x0303) == "TLSv12" and _zeek_version(0x7E01) == "unknown-32257"
    assert _zeek_version(0x7F12) == "TLSv13-draft18" and _zeek_version(pd.NA) == "-"
