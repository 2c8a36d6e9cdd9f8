"""Golden: verdicts on the Zeek test-suite traces agree with Zeek's own validation.

Zeek judged each chain with OpenSSL at the packet's time against roots/mozilla-2014-roots.pem
(``validation_status``) and compared the SNI with the leaf (``sni_matches_cert``); its
x509_check_cert_hostname baselines list which names match which certificate.
Zeek's validation checks neither the host name nor today's algorithm policy, so the
comparable status is the first problem other than hostname_mismatch and weak.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import tlskit
from tlskit.certs import (
    ChainVerdict,
    check_hostname,
    compare_certificates,
    load_truststore,
    verify_chain,
)
from tlskit.certs._store import load_certificate


def _zeek_rows(log: Path) -> Iterator[dict[str, str]]:
    fields: list[str] = []
    for line in log.read_text().splitlines():
        if line.startswith("#fields"):
            fields = line.split("\t")[1:]
        elif not line.startswith("#") and fields:
            yield dict(zip(fields, line.split("\t"), strict=True))


def _openssl_status(v: ChainVerdict) -> str:
    first = next((p for p in v.problems if p.code not in ("hostname_mismatch", "weak")), None)
    return first.message.replace("self-signed", "self signed") if first else "ok"


def _cases(zeek: Path) -> list[tuple[str, dict[str, str]]]:
    out = []
    for log in sorted((zeek / "baselines").glob("*.ssl.log")):
        for row in _zeek_rows(log):
            if row.get("validation_status", "-") != "-" or row.get("sni_matches_cert", "-") != "-":
                out.append((log.name.removesuffix(".ssl.log"), row))
    return out


@pytest.fixture(scope="module")
def zeek(conformance: Path) -> Path:
    return conformance / "zeek"


def test_verdicts_agree_with_zeek(zeek: Path) -> None:
    store = load_truststore(zeek / "roots" / "mozilla-2014-roots.pem")
    cases = _cases(zeek)
    assert len(cases) >= 4  # CVE-2015-3194, ritter.vg, ssl.gstatic.com, the 10,000-SAN cert
    checked = 0
    for trace, row in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", tlskit.CaptureWarning)
            cap = tlskit.load(zeek / "traces" / trace)
        conns = cap.connections
        hit = conns[(conns.client_ip == row["id.orig_h"]) & (conns.client_port == int(row["id.orig_p"]))
                    & (conns.server_ip == row["id.resp_h"]) & (conns.server_port == int(row["id.resp_p"]))]
        assert len(hit) == 1, f"{trace}: connection {row['id.orig_h']}:{row['id.orig_p']} not found"
        cid = int(hit.conn_id.iloc[0])
        chain = cap.certificates[(cap.certificates.conn_id == cid) & (cap.certificates.side == "server")]
        chain = chain.sort_values("position")
        sni = None if row["server_name"] == "-" else row["server_name"]
        v = verify_chain(list(chain.der), truststore=store, hostname=sni, at=chain.time.iloc[0].to_pydatetime())
        if row.get("validation_status", "-") != "-":
            assert _openssl_status(v) == row["validation_status"], f"{trace}: {v.explanation}"
            checked += 1
        if row.get("sni_matches_cert", "-") != "-":
            assert v.hostname_matches is (row["sni_matches_cert"] == "T"), f"{trace}: {v.names_checked}"
            checked += 1
        frame = compare_certificates(cap, store)
        leaf = frame[(frame.conn_id == cid) & (frame.side == "server") & (frame.position == 0)].iloc[0]
        assert leaf.chain_verdict == v.verdict  # the frame uses the SNI from the capture
    assert checked >= 5


def _hostname_baseline(path: Path) -> list[tuple[str, str, str]]:
    # "<subject DN>, <host name>, <matching name or empty>", the DN itself holding commas.
    out = []
    for line in path.read_text().splitlines():
        subject_and_host, _, matched = line.rpartition(", ")
        subject, _, host = subject_and_host.rpartition(", ")
        out.append((subject, host, matched))
    return out


@pytest.mark.parametrize("trace", ["google-duplicate.pcap", "tls-fragmented-handshake.pcap"])
def test_hostname_checks_agree_with_zeek(zeek: Path, trace: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tlskit.CaptureWarning)
        cap = tlskit.load(zeek / "traces" / trace)
    by_subject = {}
    for der in cap.certificates.der:
        cert = load_certificate(der)
        by_subject[cert.subject.rfc4514_string()] = cert
    expected = _hostname_baseline(zeek / "baselines" / f"{trace}.x509_check_cert_hostname.stdout.txt")
    assert expected
    for subject, host, matched in expected:
        cert = by_subject[subject]
        got = check_hostname(cert, host, cn_fallback=True)  # Zeek's check reads the CN when there is no SAN
        assert (got.matched_name or "") == matched, f"{subject} vs {host}: {got.names_checked}"


def test_compare_frame_on_a_capture(zeek: Path) -> None:
    store = load_truststore(zeek / "roots" / "mozilla-2014-roots.pem")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tlskit.CaptureWarning)
        cap = tlskit.load(zeek / "traces" / "client-certificate.pcap")
    before = cap.certificates.copy()
    df = compare_certificates(cap, store)
    pd.testing.assert_frame_equal(cap.certificates, before)  # the capture's table is untouched
    assert len(df) == len(cap.certificates)
    assert set(df.side.astype(str)) == {"client", "server"}
    server = df[df.side == "server"].sort_values("position")
    # Let's Encrypt's 2023 chain ends at the cross-signed ISRG Root X1 -> DST Root CA X3, which
    # the 2014 store holds but which expired in 2021: the judgement at the capture time says so.
    assert set(server.chain_verdict) == {"expired"}
    assert server.anchor.iloc[0].endswith("CN=DST Root CA X3,O=Digital Signature Trust Co.")
    assert list(server.validity) == ["valid", "valid", "valid"]
    assert list(server.issuer_in_chain) == [True, True, False]
    assert list(server.issuer_in_truststore) == [False, False, True]
    assert server.signature_valid.all()
    client = df[df.side == "client"]
    assert client.hostname.isna().all()  # no SNI check for a client chain
    assert set(client.chain_verdict) == {"trusted"}  # Actalis root is in the 2014 store
