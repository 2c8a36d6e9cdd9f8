"""End to end on captures nobody tuned tlskit for: load -> diagnose -> ladder/timeline.

Every capture under ../shared/conformance (Zeek traces; Wireshark, FoxIO JA4, Arkime and
Suricata test captures, TCP or not: DTLS, QUIC, SSH, STUN) and every lab capture in data/
goes through the whole pipeline. Nothing may raise; every connection gets exactly one
diagnosis row whose cause is in tlskit.schema.CAUSES; a capture without TLS over TCP says so
with a CaptureWarning instead of returning silently empty tables.

Engines: the native engine runs on every file. The tshark engine costs ~2.5 s per file here
(three tshark passes), so it runs on a representative subset (TCP/non-TCP, STARTTLS, SSLv2,
fragmented handshakes, gzip, pcapng, IPv6, SOCKS, key log) to keep this file under ~3 minutes.

No file is expected to be unusable: UNUSABLE would list a file that truly cannot be read,
with the typed error it must raise and why.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

import tlskit
import tlskit.plot
from tests.conftest import CONFORMANCE, DATA, requires_tshark
from tlskit.errors import CaptureWarning, TlskitError
from tlskit.schema import CAUSES

CAPTURE_DIRS = ("zeek/traces", "fingerprints/wireshark", "fingerprints/ja4", "fingerprints/arkime",
                "fingerprints/suricata-verify")

# rel path -> (typed error, why the file is unusable). Empty: every conformance file is a capture.
UNUSABLE: dict[str, tuple[type[TlskitError], str]] = {}

TSHARK_SUBSET = [
    "zeek/traces/tls1.2.pcap",
    "zeek/traces/tls13_wolfssl.pcap",
    "zeek/traces/ssl-v2.pcap",  # SSLv2 hellos
    "zeek/traces/imap-starttls.pcap",  # STARTTLS
    "zeek/traces/tls-fragmented-handshake.pcap",
    "zeek/traces/dtls1_2.pcap",  # UDP only: no TLS-over-TCP connection
    "fingerprints/wireshark/tls13-rfc8446.pcap",  # with its key log
    "fingerprints/wireshark/dhe1.pcapng.gz",  # gzip + pcapng + key log
    "fingerprints/ja4/ipv6.pcapng",
    "fingerprints/ja4/quic-tls-handshake.pcapng",  # QUIC: out of scope, must not raise
    "fingerprints/arkime/socks4-https.pcap",
    "fingerprints/suricata-verify/bug-2430__backwards.pcap",
    "data/sample/capture.pcap",
]


def _conformance_files() -> list[str]:
    if not CONFORMANCE.is_dir():
        return []
    return sorted(str(p.relative_to(CONFORMANCE)) for d in CAPTURE_DIRS
                  for p in (CONFORMANCE / d).iterdir() if p.is_file())


def _data_files() -> list[str]:
    return sorted("data/" + str(p.relative_to(DATA)) for p in DATA.rglob("capture.pcap"))


def _path(rel: str) -> Path:
    return DATA.parent / rel if rel.startswith("data/") else CONFORMANCE / rel


def _keylog(rel: str) -> Path | None:
    """The key log shipped next to a capture, if any (data/*/keys.log, wireshark/keys/<stem>.keys)."""
    path = _path(rel)
    if rel.startswith("data/"):
        k = path.with_name("keys.log")
        return k if k.exists() else None
    stem = path.name.split(".")[0]
    for cand in (path.parent / "keys" / f"{stem}.keys", path.parent / "keys" / f"{stem}_keylog.dat"):
        if cand.exists():
            return cand
    return None


def _pipeline(rel: str, engine: str, keylog: Path | None) -> None:
    path = _path(rel)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if rel in UNUSABLE:
            error, _why = UNUSABLE[rel]
            with pytest.raises(error) as exc:
                tlskit.load(path, engine=engine, keylog=keylog)
            assert path.name in str(exc.value)
            return
        cap = tlskit.load(path, engine=engine, keylog=keylog)
        diag = tlskit.diagnose(cap)
    capture_warnings = [w for w in caught if issubclass(w.category, CaptureWarning)]

    conns = cap.connections
    assert cap.engine == engine
    assert len(diag) == len(conns)
    assert sorted(diag["conn_id"].astype(int)) == sorted(conns["conn_id"].astype(int))
    assert diag["cause"].notna().all()
    assert set(diag["cause"].astype(str)) <= set(CAUSES)
    assert diag["summary"].notna().all() and (diag["summary"].str.len() > 0).all()
    if conns.empty:
        # Not TLS over TCP (DTLS, QUIC, STUN, SSH): say so rather than return silent empty tables.
        assert capture_warnings or cap.warnings, rel

    fig, ax = plt.subplots()
    try:
        assert tlskit.plot.timeline(cap, diagnosis=diag, ax=ax) is ax
        if not conns.empty:
            assert ax.patches or ax.lines or ax.collections
    finally:
        plt.close(fig)
    # Ladders: every failure (the rows users open) and the first connection, at most 6 per file.
    failed = diag.loc[diag["cause"].astype(str) != "ok", "conn_id"].astype(int).tolist()
    first = conns["conn_id"].astype(int).head(1).tolist()
    for conn_id in list(dict.fromkeys(failed + first))[:6]:
        fig, ax = plt.subplots()
        try:
            assert tlskit.plot.ladder(cap, conn_id, diagnosis=diag, ax=ax) is ax
            n_messages = int((cap.messages["conn_id"] == conn_id).sum())
            arrows = [p for p in ax.patches if (p.get_gid() or "").startswith("arrow:")]
            assert len(arrows) >= min(n_messages, 1), (rel, conn_id)
        finally:
            plt.close(fig)


@pytest.mark.parametrize("rel", _conformance_files() + _data_files())
def test_native_pipeline_never_raises(rel: str) -> None:
    _pipeline(rel, "native", None)


@pytest.mark.parametrize("rel", [r for r in _conformance_files() + _data_files() if _keylog(r)])
def test_native_pipeline_with_key_log(rel: str) -> None:
    _pipeline(rel, "native", _keylog(rel))


@requires_tshark
@pytest.mark.tshark
@pytest.mark.parametrize("rel", TSHARK_SUBSET)
def test_tshark_pipeline_never_raises(rel: str) -> None:
    if not rel.startswith("data/") and not CONFORMANCE.is_dir():
        pytest.skip("conformance captures not found")
    _pipeline(rel, "tshark", _keylog(rel))


def test_every_capture_is_covered() -> None:
    """The lists above are not silently empty (a moved folder would make the suite vacuous)."""
    if not CONFORMANCE.is_dir():
        pytest.skip("conformance captures not found")
    assert len(_conformance_files()) >= 130  # 30 Zeek traces + 101 fingerprint captures
    assert len(_data_files()) >= 40
    assert set(TSHARK_SUBSET) <= set(_conformance_files()) | set(_data_files())
    assert sum(_keylog(r) is not None for r in _data_files()) >= 20  # keys.log exists when secrets did
