"""Every lab scenario, rebuilt once per session (``lab_dir``), shows what its answer key says.

Read back with the loader (``tlskit.load``, native engine; a tshark pass checks the same
facts with the other engine): alerts and their senders, versions offered and chosen, SNI,
chains as sent, client certificates, resets, resumption and HelloRetryRequest.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import tlskit
from tests.conftest import requires_java, requires_tshark
from tlskit import lab
from tlskit.schema import CAUSES

VERSION = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def _java(name: str) -> list[Any]:
    sc = lab.SCENARIOS[name]
    return [requires_java] if sc.needs_java else []


NAMES = [pytest.param(n, marks=_java(n)) for n in lab.SCENARIOS]


def _answer(lab_dir: Path, name: str) -> dict[str, Any]:
    return json.loads((lab_dir / name / "answer.json").read_text(encoding="utf-8"))


def _load(lab_dir: Path, name: str, engine: str = "native") -> tlskit.Capture:
    keylog = lab_dir / name / "keys.log"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a lab capture must read cleanly
        return tlskit.load(lab_dir / name / "capture.pcap",
                           keylog=keylog if keylog.exists() else None, engine=engine)


def _check_connection(conn: pd.Series, a: dict[str, Any], sc: lab.Scenario,
                      cap: tlskit.Capture) -> None:
    assert conn["client_ip"] == a["client"]["ip"]
    assert conn["client_port"] == a["client"]["port"]
    assert conn["server_port"] == a["server"]["port"]
    if a["sni_sent"]:
        assert conn["sni"] == a["hostname"]
    else:
        assert pd.isna(conn["sni"])
    offered = list(conn["client_versions"]) or [conn["client_legacy_version"]]
    assert VERSION[sc.client.max_version] == max(offered)
    if a["alert"]:
        assert conn["alert_name"] == a["alert"]["name"]
        assert conn["alert_from"] == a["alert"]["from"]
        assert conn["alert"] == a["alert"]["code"]
        rows = cap.messages[(cap.messages.conn_id == conn["conn_id"])
                            & (cap.messages.alert_level == 2)]
        assert bool(rows.iloc[0]["encrypted"]) == a["alert"]["encrypted"]
    else:
        assert pd.isna(conn["alert"])
    if a["warning_alert"]:
        w = cap.messages[(cap.messages.conn_id == conn["conn_id"]) & (cap.messages.alert_level == 1)]
        assert w.iloc[0]["alert_description_name"] == a["warning_alert"]["name"]
        assert w.iloc[0]["direction"] == ("s2c" if a["warning_alert"]["from"] == "server" else "c2s")
    if a["established"]:
        assert conn["established"]
        assert conn["version"] == VERSION[a["tls_version"]]
        assert not pd.isna(conn["first_app_data_time"])
    elif not pd.isna(conn["version"]):  # a ServerHello was sent: the version it chose
        assert conn["version"] == VERSION[a["tls_version"]]
    if a["middlebox_rst"]:
        assert conn["tcp_end"] == "rst" and conn["tcp_end_by"] == "server"
        assert pd.isna(conn["server_hello_time"])
    if sc.server.client_auth and not pd.isna(conn["version"]):
        assert conn["certificate_requested"]
        assert conn["client_certificate_sent"] == (sc.client.certificate is not None)


@pytest.mark.parametrize("name", NAMES)
def test_capture_matches_answer(lab_dir: Path, name: str) -> None:
    sc = lab.SCENARIOS[name]
    a = _answer(lab_dir, name)
    assert a["cause"] == sc.cause and a["cause"] in CAUSES
    cap = _load(lab_dir, name)
    conns = cap.connections
    assert len(conns) == a["connections"] == sc.client.connections
    assert list(conns["client_port"]) == a["client_ports"]
    for _, conn in conns.iterrows():
        port = a["client_ports"][int(conn["conn_id"])]
        _check_connection(conn, {**a, "client": {"ip": a["client"]["ip"], "port": port}}, sc, cap)
    assert (conns["retransmissions"] == 0).all()
    if a["resumed_connection"] is not None:
        assert list(conns["resumed"]) == [False, True]
    assert bool(conns.iloc[0]["hello_retry_request"]) == a["hello_retry_request"]


def _server_certs(cap: tlskit.Capture) -> pd.DataFrame:
    c = cap.certificates
    return c[(c.conn_id == 0) & (c.side == "server")].sort_values("position")


@pytest.mark.parametrize("name", [pytest.param(n, marks=_java(n)) for n, s in lab.SCENARIOS.items()
                                  if s.cause in ("incomplete_chain", "expired_certificate",
                                                 "hostname_mismatch", "unknown_ca", "ok")
                                  and not s.needs_java])
def test_server_chain_as_sent(lab_dir: Path, name: str) -> None:
    """The chain in the capture is the artifact's chain, valid or not at the capture's time."""
    from cryptography import x509

    sc = lab.SCENARIOS[name]
    cap = _load(lab_dir, name)
    certs = _server_certs(cap)
    if sc.client.connections > 1:
        certs = certs[certs.conn_id == 0]
    pem = x509.load_pem_x509_certificates((lab_dir / name / "server-chain.pem").read_bytes())
    assert len(certs) == len(pem) == (1 if not sc.server.send_intermediate
                                      or sc.server.certificate == "self_signed" else 2)
    assert [bytes(d) for d in certs["der"]] == [c.public_bytes(_DER) for c in pem]
    leaf = certs.iloc[0]
    at = leaf["time"]
    if sc.server.certificate == "expired":
        assert leaf["not_after"] < at
    elif sc.server.certificate == "not_yet_valid":
        assert leaf["not_before"] > at
    else:
        assert leaf["not_before"] <= at <= leaf["not_after"]
    if sc.server.certificate == "cn_only":
        assert list(leaf["san_dns"]) == [] and leaf["subject_cn"] == sc.hostname
    if sc.server.certificate == "self_signed":
        assert leaf["self_signed"]


def _der() -> Any:
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.DER


_DER = _der()


def test_cipher_mismatch_offers_nothing_the_server_takes(lab_dir: Path) -> None:
    cap = _load(lab_dir, "cipher_mismatch_tls12")
    offered = cap.connections.iloc[0]["offered_ciphers"]
    assert 0x0035 not in offered  # TLS_RSA_WITH_AES_256_CBC_SHA, the server's only suite
    assert 0xC02F in offered
    groups = _load(lab_dir, "cipher_mismatch_tls13_groups").connections.iloc[0]
    assert list(groups["offered_groups"]) == [0x001D]  # X25519 only; the server takes secp384r1


def test_ipv6_scenario(lab_dir: Path) -> None:
    conn = _load(lab_dir, "ok_hrr_tls13").connections.iloc[0]
    assert ":" in conn["client_ip"] and conn["client_ip"].startswith("fd00:20::")


@requires_tshark
@pytest.mark.parametrize("name", ["expired_tls12", "mtls_missing_tls13", "sni_missing_tls12",
                                  "ok_resumption_tls13", "tcp_reset_after_client_hello",
                                  "ok_hrr_tls13",
                                  pytest.param("java_sni_warning_tls12", marks=requires_java)])
def test_tshark_engine_agrees(lab_dir: Path, name: str) -> None:
    a = _answer(lab_dir, name)
    conns = _load(lab_dir, name, engine="tshark").connections
    first = conns.iloc[0]
    assert first["client_port"] == a["client"]["port"]
    if a["alert"]:
        assert (first["alert_name"], first["alert_from"]) == (a["alert"]["name"], a["alert"]["from"])
    assert bool(first["established"]) == a["established"] or a["alert"]["encrypted"]


@requires_java
def test_java_debug_log_kept(lab_dir: Path) -> None:
    log = (lab_dir / "java_hostname_mismatch_tls12" / "jsse-debug.log").read_text(encoding="utf-8")
    assert "javax.net.ssl" in log and "certificate_unknown" in log.lower().replace(" ", "_")
    server = (lab_dir / "java_server_mtls_missing_tls12" / "jsse-debug.log").read_text(encoding="utf-8")
    assert "bad_certificate" in server.lower().replace(" ", "_")


@requires_java
def test_tls13_suite_mismatch_offers_no_ccm(lab_dir: Path) -> None:
    conn = _load(lab_dir, "cipher_mismatch_tls13").connections.iloc[0]
    offered = list(conn["offered_ciphers"])
    assert 0x1304 not in offered  # TLS_AES_128_CCM_SHA256, the server's only suite
    assert {0x1301, 0x1302} <= set(offered)
    assert list(conn["client_versions"]) == [0x0304]
