"""CipherExplorer, driven by setting widget values (no browser)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("ipywidgets")

import tlskit
from tlskit import schema
from tlskit.ciphers import ServerConfig
from tlskit.widgets import CipherExplorer
from tlskit.widgets.ciphers import PASTE

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
GCM, AES256SHA = 0xC02F, 0x0035


def _connections() -> object:
    rows = [
        {"conn_id": 0, "client_ip": "10.0.0.1", "server_ip": "10.0.0.9", "server_port": 443, "sni": "a.test",
         "offered_ciphers": [0x0A0A, GCM, 0xC030], "client_versions": [0x0304, 0x0303],
         "client_max_version": 0x0304, "client_legacy_version": 0x0303, "alert_name": "handshake_failure"},
        {"conn_id": 1, "client_ip": "10.0.0.2", "server_ip": "10.0.0.9", "server_port": 443,
         "offered_ciphers": [AES256SHA], "client_versions": [], "client_max_version": 0x0302,
         "client_legacy_version": 0x0302},
        {"conn_id": 2, "client_ip": "10.0.0.3", "server_ip": "10.0.0.9", "server_port": 443,
         "offered_ciphers": []},  # no ClientHello seen: not offered for picking
    ]
    return schema.conform(rows, schema.CONNECTIONS)


def test_pick_connection_and_config_then_what_if() -> None:
    seen = []
    legacy = ServerConfig(frozenset({0x0301, 0x0302, 0x0303}), [AES256SHA], source="list")
    ex = CipherExplorer(_connections(), configs={"legacy": legacy}, on_change=seen.append)
    assert [v for _, v in ex.connection.options] == [0, 1]
    assert ex.value.conn_id == 0
    assert ex.value.ciphers is not None and ex.value.ciphers.verdict == "no_common_suite"
    assert ex.value.ciphers.fix_code == GCM and ex.value.ciphers.fix_side == "server"
    # what-if: enable the suite the fix names -> the overlap appears
    assert GCM in [v for _, v in ex.enable.options]
    ex.enable.value = (GCM,)
    assert ex.value.ciphers.verdict == "ok" and ex.value.ciphers.expected == GCM
    assert ex.value.config is not None and GCM in ex.value.config.cipher_suites
    assert legacy.cipher_suites == [AES256SHA]  # the preset itself is untouched
    assert "Cipher suites: ok" in ex.output.value
    # what-if: turn TLS 1.2 off on the server -> no version in common with this client
    ex.versions.value = (0x0301, 0x0302)
    assert ex.value.protocols is not None and ex.value.protocols.verdict == "no_common_version"
    assert ex.value.protocols.fix_side == "server"
    # another connection: the old client, TLS 1.1 at most
    ex.connection.value = 1
    assert ex.value.conn_id == 1
    assert ex.value.protocols.verdict == "weak_only"
    assert len(seen) >= 4 and seen[-1] is ex.value


@needs_openssl
def test_pasted_configuration_is_read_and_errors_are_shown() -> None:
    ex = CipherExplorer(_connections(), configs={})
    assert ex.preset.value == PASTE and ex.value.ciphers is None
    ex.text.value = "server { listen 443 ssl; ssl_protocols TLSv1.2; ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256; }"
    assert ex.value.config is not None and ex.value.config.source == "nginx"
    assert ex.value.ciphers is not None and ex.value.ciphers.verdict == "ok"
    assert ex.versions.value == (0x0303,)
    ex.text.value = "<TargetEndpoint><SSLInfo></TargetEndpoint>"
    assert ex.value.ciphers is None and "well-formed" in (ex.value.error or "")
    assert "well-formed" in ex.output.value


def test_offer_without_a_capture() -> None:
    ex = CipherExplorer(offered=["AES256-SHA"], configs={"modern": ServerConfig(frozenset({0x0303}), [GCM])})
    assert ex.value.conn_id is None
    assert ex.value.ciphers is not None and ex.value.ciphers.fix_side == "client"
    ex.disable.value = (GCM,)
    assert ex.value.config is not None and ex.value.config.all_suites == []
    with pytest.raises(tlskit.TlskitError):
        CipherExplorer()


def test_explorer_on_a_real_capture(conformance: Path) -> None:
    cap = tlskit.load(conformance / "zeek" / "traces" / "tls-1.2-handshake-failure.pcap")
    modern = ServerConfig(frozenset({0x0303}), [GCM, 0xC030])
    ex = CipherExplorer(cap, configs={"modern": modern})
    assert ex.value.ciphers is not None and ex.value.ciphers.verdict == "no_common_suite"
    assert ex.value.ciphers.fix_side == "client"
    # enabling one of the client's NULL suites on the server "works" but is insecure
    null_sha = 0x0002
    ex.enable.value = (null_sha,)
    assert ex.value.ciphers.verdict == "weak_only"


def test_default_presets_are_jsse_profiles() -> None:
    ex = CipherExplorer(_connections())
    assert list(ex.preset.options)[:3] == ["Java 17 defaults", "Java 11 defaults", "Java 8 defaults"]
    assert ex.value.config is not None and ex.value.config.source == "jsse"
    assert ex.value.ciphers is not None and ex.value.ciphers.verdict == "ok"  # conn 0 offers ECDHE-RSA GCM
    ex.connection.value = 1  # TLS 1.1 client with only AES256-SHA: Java 17 refuses both
    assert ex.value.protocols is not None and ex.value.protocols.verdict == "no_common_version"
    assert ex.value.protocols.fix_side == "client"


def test_groups_are_compared_for_capture_connections() -> None:
    conns = _connections()
    conns.at[0, "offered_groups"] = [29]
    ex = CipherExplorer(conns, configs={"p384": ServerConfig(frozenset({0x0303}), [GCM], groups=[24])})
    assert ex.value.groups is not None and ex.value.groups.verdict == "no_common_group"
    assert "Groups: no_common_group" in ex.output.value
