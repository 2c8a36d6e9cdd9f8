"""Real public captures (../shared/conformance) whose outcome other tools already judged.

Expected values come from conformance/zeek/index.csv and baselines (Zeek's ssl.log: last_alert,
established) and fingerprints/MANIFEST.md (what each capture shows); the cause is the one the
described failure implies. Successful handshakes must stay `ok`, including certificates that
have expired since the capture was made (judged at the capture's time, not today).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

import tlskit
from tlskit.capture import load
from tlskit.errors import CaptureWarning

FAILURES = {
    # trace: [(cause, alert, alert_from) per connection, in conn_id order]
    # Zeek: client without SNI offers only NULL suites; Google answers handshake_failure, no ServerHello.
    "zeek/traces/tls-1.2-handshake-failure.pcap": [("cipher_mismatch", "handshake_failure", "server")],
    # Zeek: two draft TLS 1.3 ClientHellos rejected with protocol_version.
    "zeek/traces/tls13draft16-chrome55.0.2879.0-canary-aborted.pcap": [("protocol_mismatch", "protocol_version", "server")] * 2,
    "zeek/traces/tls13draft16-ff52.a01-aborted.pcap": [("protocol_mismatch", "protocol_version", "server")] * 2,
    # FoxIO: forged CurveBall chain (root impostor 'INFIGO'); the client sends certificate_unknown.
    "fingerprints/ja4/badcurveball.pcap": [("unknown_ca", "certificate_unknown", "client")],
    # Zeek: SNI is an IP the 10,000-SAN certificate (CN=Bro) does not cover (sni_matches_cert F);
    # the client leaves after the certificate without finishing.
    "zeek/traces/tls-fragmented-handshake.pcap": [("hostname_mismatch", None, None)],
}

SUCCESSES = [
    "zeek/traces/tls1.2.pcap",
    "zeek/traces/tls1_1.pcap",
    "zeek/traces/google-duplicate.pcap",
    "zeek/traces/signed_certificate_timestamp.pcap",
    "zeek/traces/client-certificate.pcap",  # mutual TLS that worked
    "zeek/traces/tls13_wolfssl.pcap",  # TLS 1.3 without keys
    "fingerprints/arkime/ssl-selfsign.pcap",  # a self-signed certificate the client accepted
    "fingerprints/arkime/openssl-tls1_2-tls1.pcap",  # a downgrade to TLS 1.0 that still completed
    "fingerprints/wireshark/tls13-rfc8446.pcap",
]


def _diagnose(conformance: Path, rel: str) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        cap = load(conformance / rel)
    return tlskit.diagnose(cap).sort_values("conn_id").reset_index(drop=True)


@pytest.mark.parametrize("rel", sorted(FAILURES))
def test_failure_traces(conformance: Path, rel: str) -> None:
    out = _diagnose(conformance, rel)
    got = [(r.cause, None if pd.isna(r.alert) else r.alert, None if pd.isna(r.alert_from) else r.alert_from)
           for r in out.itertuples()]
    assert got == FAILURES[rel]
    assert all(len(ev) >= 3 for ev in out["evidence"])


@pytest.mark.parametrize("rel", SUCCESSES)
def test_successful_handshakes_stay_ok(conformance: Path, rel: str) -> None:
    out = _diagnose(conformance, rel)
    assert list(out["cause"].astype(str)) == ["ok"] * len(out) and len(out) >= 1


def test_certificates_expired_since_are_judged_at_capture_time(conformance: Path) -> None:
    rel = "fingerprints/suricata-verify/tls__tls-cert-issuer__tls.pcap"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        cap = load(conformance / rel)
    # Suricata asserts notafter 2025-02-09 for this server certificate: expired by now, valid then.
    assert (cap.certificates["not_after"].dt.date.astype(str) == "2025-02-09").any()
    out = tlskit.diagnose(cap)
    assert set(out["cause"].astype(str)) == {"ok"}


def test_badcurveball_evidence_names_the_forged_root(conformance: Path) -> None:
    row = _diagnose(conformance, "fingerprints/ja4/badcurveball.pcap").iloc[0]
    text = " ".join(row["evidence"])
    assert "CN=INFIGO" in row["summary"] and "does not verify with its own key" in text
    assert "Frame 9: the client sent the fatal alert certificate_unknown" in text
