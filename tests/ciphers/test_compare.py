"""compare_ciphers / compare_protocols: tables, verdicts and the smallest secure fix."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import tlskit
from tlskit import ciphers, registry
from tlskit.ciphers import ServerConfig, compare_ciphers, compare_protocols

ECDHE_RSA_GCM = 0xC02F
RSA_AES256_SHA = 0x0035
T12 = frozenset({0x0303})


def test_common_strong_suite_is_ok_and_expected_follows_client_order() -> None:
    server = ServerConfig(T12, [RSA_AES256_SHA, ECDHE_RSA_GCM])
    r = compare_ciphers(["ECDHE-RSA-AES128-GCM-SHA256", "AES256-SHA"], server)
    assert r.verdict == "ok" and r.ok and r.fix is None
    assert r.expected == ECDHE_RSA_GCM
    assert list(r.table.columns) == ["code", "name", "openssl_name", "java_name", "tls13", "strength", "offered",
                                     "supported", "common", "usable", "offered_rank", "supported_rank"]
    assert str(r.table["code"].dtype) == "UInt16" and str(r.table["common"].dtype) == "boolean"
    first = r.table.iloc[0]
    assert (first["name"], first["openssl_name"], bool(first["usable"])) == (
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256", True)


def test_no_common_suite_prefers_enabling_a_strong_client_suite_on_the_server() -> None:
    # the lab's cipher-mismatch case: client offers ECDHE AES-GCM, server only AES256-SHA
    server = ServerConfig(T12, [RSA_AES256_SHA], source="nginx")
    client = ["ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "DES-CBC3-SHA"]
    r = compare_ciphers(client, server)
    assert r.verdict == "no_common_suite" and not r.ok
    assert r.fix_side == "server"
    # the server has an RSA certificate (its suites authenticate with RSA): pick the RSA suite
    assert r.fix_code == ECDHE_RSA_GCM
    assert "ssl_ciphers" in (r.fix or "") and "ECDHE-RSA-AES128-GCM-SHA256" in (r.fix or "")
    assert not r.table["common"].any()


def test_client_offering_only_weak_suites_is_fixed_on_the_client() -> None:
    server = ServerConfig(T12, [ECDHE_RSA_GCM, 0xC030])
    r = compare_ciphers(["TLS_RSA_WITH_NULL_SHA", "TLS_RSA_WITH_NULL_MD5"], server)
    assert r.verdict == "no_common_suite"
    assert (r.fix_side, r.fix_code) == ("client", ECDHE_RSA_GCM)


def test_weak_only_overlap_suggests_a_stronger_common_option() -> None:
    server = ServerConfig(T12, [RSA_AES256_SHA])
    r = compare_ciphers(["ECDHE-RSA-AES128-GCM-SHA256", "AES256-SHA"], server)
    assert r.verdict == "weak_only" and r.ok
    assert r.expected == RSA_AES256_SHA
    assert (r.fix_side, r.fix_code) == ("server", ECDHE_RSA_GCM)


def test_suites_need_a_version_both_enable() -> None:
    # a TLS 1.3 suite in common does not help when TLS 1.3 is not common
    client = ServerConfig(frozenset({0x0303, 0x0304}), [], tls13_suites=[0x1301], source="list")
    server = ServerConfig(frozenset({0x0303}), [RSA_AES256_SHA], tls13_suites=[0x1301])
    r = compare_ciphers(client, server)
    row = r.table.set_index("code").loc[0x1301]
    assert bool(row["common"]) and not bool(row["usable"])
    assert r.verdict == "no_common_suite"
    # GCM suites need TLS 1.2: with only TLS 1.0 in common they are not usable
    old = ServerConfig(frozenset({0x0301}), [ECDHE_RSA_GCM])
    assert compare_ciphers(old, ServerConfig(frozenset({0x0301, 0x0303}), [ECDHE_RSA_GCM])).verdict == (
        "no_common_suite")


def test_no_common_version_is_reported_by_compare_ciphers_too() -> None:
    client = ServerConfig(frozenset({0x0301, 0x0302}), [0xC013])
    server = ServerConfig(frozenset({0x0303, 0x0304}), [0xC013], source="nginx")
    r = compare_ciphers(client, server)
    assert r.verdict == "no_common_version"
    assert r.fix_side == "client" and r.fix_code == 0x0303


def test_protocols_fix_the_outdated_side_never_downgrade_first() -> None:
    old_client = ServerConfig(frozenset({0x0301, 0x0302}), [])
    modern_server = ServerConfig(frozenset({0x0303, 0x0304}), [], source="nginx")
    r = compare_protocols(old_client, modern_server)
    assert r.verdict == "no_common_version"
    assert (r.fix_side, r.fix_code) == ("client", 0x0303)
    assert list(r.table["name"][:4]) == ["TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1.0"]
    # an old server and a modern client: the server is fixed, with nginx syntax
    r2 = compare_protocols(modern_server.replace(source="list"), old_client.replace(source="nginx"))
    assert (r2.fix_side, r2.fix_code) == ("server", 0x0303)
    assert "ssl_protocols" in (r2.fix or "")
    ok = compare_protocols(modern_server, modern_server)
    assert (ok.verdict, ok.expected) == ("ok", 0x0304)


def test_apigee_target_fix_uses_java_syntax() -> None:
    target = ciphers.read_server_config(
        "<TargetServer><SSLInfo><Protocols><Protocol>TLSv1.2</Protocol></Protocols><Ciphers>"
        "<Cipher>TLS_RSA_WITH_AES_256_CBC_SHA</Cipher></Ciphers></SSLInfo></TargetServer>")
    backend = ServerConfig(T12, [ECDHE_RSA_GCM])
    r = compare_ciphers(target, backend)  # the message processor is the client
    assert r.verdict == "no_common_suite"
    assert r.fix_side == "client"
    assert "<Cipher>TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256</Cipher>" in (r.fix or "")


def test_connection_row_as_offered() -> None:
    row = pd.Series({"offered_ciphers": [0x0A0A, ECDHE_RSA_GCM, 0x00FF], "client_versions": [0x0304, 0x0303],
                     "client_max_version": 0x0304, "client_legacy_version": 0x0303})
    suites, versions = ciphers.offered_by(row)
    assert suites == [ECDHE_RSA_GCM, 0x00FF] and versions == frozenset({0x0303, 0x0304})
    legacy = {"offered_ciphers": [0x002F], "client_versions": [], "client_max_version": 0x0302,
              "client_legacy_version": 0x0302}
    assert ciphers.offered_by(legacy)[1] == frozenset({0x0302})  # the minimum is not on the wire
    p = compare_protocols(legacy, ServerConfig(frozenset({0x0301}), [0x002F]))
    assert p.verdict == "no_common_version" and "no supported_versions" in p.notes[0]
    r = compare_ciphers(row, ServerConfig(frozenset({0x0303}), [ECDHE_RSA_GCM]))
    assert r.verdict == "ok" and 0x00FF not in set(r.table["code"])  # SCSV is not a suite


def test_bad_input_is_a_typed_error() -> None:
    with pytest.raises(tlskit.ConfigError, match="unknown cipher suites"):
        compare_ciphers(["TLS_NOT_A_SUITE", 1], ["AES256-SHA"])
    with pytest.raises(TypeError):
        compare_ciphers(3.5, ["AES256-SHA"])


def test_public_names() -> None:
    assert tlskit.compare_ciphers is compare_ciphers
    assert tlskit.compare_protocols is compare_protocols
    html = compare_ciphers(["AES256-SHA"], ["AES256-SHA"])._repr_html_()
    assert "<b>weak_only</b>" in html and "TLS_RSA_WITH_AES_256_CBC_SHA" in html


def test_conformance_null_only_client_against_a_modern_server(conformance: Path) -> None:
    """Zeek's tls-1.2-handshake-failure.pcap: a client offering only NULL suites (no SNI)."""
    cap = tlskit.load(conformance / "zeek" / "traces" / "tls-1.2-handshake-failure.pcap")
    row = cap.connections.iloc[0]
    assert row["alert_name"] == "handshake_failure"
    server = ServerConfig(frozenset({0x0303, 0x0304}), [0xC02B, ECDHE_RSA_GCM, 0xC02C, 0xC030],
                          tls13_suites=[0x1301, 0x1302])
    r = compare_ciphers(row, server)
    assert r.verdict == "no_common_suite"
    assert set(r.table.loc[r.table["offered"], "strength"]) == {"insecure"}
    assert r.fix_side == "client"
    assert registry.cipher_suite(r.fix_code or 0).strength == "recommended"
    assert compare_protocols(row, server).verdict == "ok"


def test_conformance_capture_as_a_server_source(conformance: Path) -> None:
    cap = tlskit.load(conformance / "zeek" / "traces" / "tls1.2.pcap")
    cfg = ciphers.read_capture(cap)
    assert (cfg.source, cfg.versions, cfg.cipher_suites) == ("capture", frozenset({0x0303}), [0x0004])
    assert "only what the server chose" in cfg.caveats[0]
    assert registry.cipher_suite_name(cfg.cipher_suites[0]) == "TLS_RSA_WITH_RC4_128_MD5"


@pytest.mark.skipif(__import__("shutil").which("openssl") is None, reason="openssl CLI not installed")
def test_server_preference_decides_the_expected_suite() -> None:
    conf = ("server {{ listen 443 ssl; ssl_protocols TLSv1.2; "
            "ssl_ciphers ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256; {} }}")
    client = ["ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]
    follows_client = ciphers.read_server_config(conf.format(""))
    enforces = ciphers.read_server_config(conf.format("ssl_prefer_server_ciphers on;"))
    assert (follows_client.server_order, enforces.server_order) == (False, True)
    assert compare_ciphers(client, follows_client).expected == ECDHE_RSA_GCM
    assert compare_ciphers(client, enforces).expected == 0xC030
    assert ciphers.read_jsse(17).server_order  # JSSE servers honour their own order by default


def test_capture_connection_object_as_offered(conformance: Path) -> None:
    cap = tlskit.load(conformance / "zeek" / "traces" / "tls1.2.pcap")
    conn = cap.connection(int(cap.connections["conn_id"].iloc[0]))
    r = compare_ciphers(conn, ciphers.read_capture(cap))
    assert r.verdict == "weak_only" and r.expected == 0x0004  # RC4-MD5, what the server chose


def test_groups_compare_and_fix() -> None:
    from tlskit.ciphers import compare_groups

    row = {"offered_groups": [0x0A0A, 29, 23], "offered_key_shares": [0x0A0A, 29]}
    only_p384 = ServerConfig(frozenset({0x0304}), [], groups=[24], source="nginx")
    r = compare_groups(row, only_p384)
    assert r.verdict == "no_common_group" and not r.ok
    assert (r.fix_side, r.fix_code) == ("server", 29)
    assert "ssl_ecdh_curve" in (r.fix or "")
    assert list(r.table["name"]) == ["x25519", "secp256r1", "secp384r1"]
    hrr = compare_groups(row, ServerConfig(frozenset({0x0304}), [], groups=[23]))
    assert (hrr.verdict, hrr.expected) == ("ok", 23) and "HelloRetryRequest" in hrr.notes[0]
    unknown = compare_groups(row, ServerConfig(frozenset({0x0304}), []))
    assert unknown.verdict == "ok" and "not compared" in unknown.summary
    assert compare_groups(["X25519", "prime256v1"], "secp384r1").fix_side == "server"
    with pytest.raises(tlskit.ConfigError, match="unknown group"):
        compare_groups(["not-a-curve"], "secp384r1")


@pytest.mark.skipif(__import__("shutil").which("openssl") is None, reason="openssl CLI not installed")
def test_group_sources() -> None:
    nginx = ciphers.read_server_config("server { listen 443 ssl; ssl_ecdh_curve X25519:prime256v1; }")
    assert nginx.groups == [29, 23]
    auto = ciphers.read_server_config("server { listen 443 ssl; }")
    assert auto.groups[:2] == [29, 23]  # OpenSSL 3.0's default list
    assert 29 not in ciphers.read_jsse(8).groups and ciphers.read_jsse(17).groups[0] == 29
    text = "jdk.tls.namedGroups=secp384r1, secp521r1\njdk.tls.disabledAlgorithms=SSLv3, secp521r1\n"
    assert ciphers.read_server_config(text).groups == [24]
