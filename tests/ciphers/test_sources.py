"""Server-side sources: OpenSSL strings, nginx, Apigee XML/JSON, JSSE profiles, detection."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tlskit import ciphers, registry
from tlskit.ciphers import ServerConfig, read_server_config
from tlskit.errors import ConfigError

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")

C02F = registry.cipher_suite_code("ECDHE-RSA-AES128-GCM-SHA256")


# --- OpenSSL cipher strings ------------------------------------------------------------------


@needs_openssl
def test_openssl_string_is_expanded_by_local_openssl_and_labelled() -> None:
    cfg = ciphers.read_openssl("ECDHE+AESGCM:!ECDSA")
    names = [registry.cipher_suite_name(c) for c in cfg.cipher_suites]
    assert names == ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
    assert cfg.tls13_suites == [0x1302, 0x1303, 0x1301]  # OpenSSL's default Ciphersuites, in its order
    assert cfg.source == "openssl"
    assert "OpenSSL 3" in cfg.caveats[0] and "security level" in cfg.caveats[0]


@needs_openssl
def test_openssl_tls13_suites_are_configured_separately() -> None:
    cfg = ciphers.read_openssl("AES256-SHA", ciphersuites="TLS_AES_128_GCM_SHA256", protocols=["TLSv1.2"])
    assert cfg.cipher_suites == [0x0035]
    assert cfg.tls13_suites == [0x1301]
    assert cfg.versions == frozenset({0x0303})


@needs_openssl
def test_openssl_single_suite_and_bad_strings() -> None:
    assert ciphers.read_openssl("AES128-SHA:@SECLEVEL=0").cipher_suites == [0x002F]
    with pytest.raises(ConfigError, match="rejects the cipher string"):
        ciphers.read_openssl("NOSUCHCIPHER")


def test_plain_suite_list_needs_no_openssl() -> None:
    cfg = read_server_config("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256")
    assert (cfg.source, cfg.cipher_suites, cfg.tls13_suites) == ("list", [C02F], [0x1301])


# --- nginx -------------------------------------------------------------------------------------

NGINX = """
# two sites behind one listener; the default server refuses unknown names
http {
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers 'ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA';
    server {
        listen 443 ssl default_server;
        ssl_reject_handshake on;
    }
    server {
        listen 443 ssl;
        server_name api.example.com www.example.com;
        ssl_certificate /etc/nginx/tls/a.pem;
    }
    server {
        listen 443 ssl;
        server_name legacy.example.com;
        ssl_protocols TLSv1.2;
        ssl_ciphers AES256-SHA;   # only this one
        ssl_conf_command Ciphersuites TLS_AES_256_GCM_SHA384;
    }
}
"""


@needs_openssl
def test_nginx_inherits_http_settings_and_knows_sni() -> None:
    cfg = read_server_config(NGINX)
    assert cfg.source == "nginx"
    assert cfg.server_names == ["api.example.com", "www.example.com"]
    assert cfg.cipher_suites == [C02F, 0x0035]
    assert cfg.versions == frozenset({0x0303, 0x0304})
    assert cfg.sni_required is True


@needs_openssl
def test_nginx_server_name_picks_the_block_sni_would() -> None:
    cfg = read_server_config(NGINX, server_name="legacy.example.com")
    assert cfg.server_names == ["legacy.example.com"]
    assert (cfg.cipher_suites, cfg.tls13_suites, cfg.versions) == ([0x0035], [0x1302], frozenset({0x0303}))
    # an unknown name lands on the default server, which here only rejects
    assert read_server_config(NGINX, server_name="other.example.org").server_names == []


@needs_openssl
def test_nginx_defaults_and_lab_snippet(tmp_path: Path) -> None:
    # the lab writes snippets like this one (tlskit.lab._artifacts.nginx_snippet)
    snippet = ("server {\n    listen 443 ssl;\n    server_name svc.test;\n"
               "    ssl_protocols TLSv1.2;\n    ssl_ciphers AES256-SHA;\n}\n")
    path = tmp_path / "server.conf"
    path.write_text(snippet)
    cfg = read_server_config(path)
    assert (cfg.origin, cfg.cipher_suites, cfg.sni_required) == (str(path), [0x0035], False)
    bare = read_server_config("server { listen 443 ssl; server_name x.test; }", kind="nginx")
    assert any("ssl_ciphers not set" in c for c in bare.caveats)
    assert C02F in bare.cipher_suites  # nginx's default HIGH:!aNULL:!MD5
    assert all(registry.cipher_suite(c).auth != "anon" for c in bare.cipher_suites)


def test_nginx_syntax_errors_name_the_file() -> None:
    with pytest.raises(ConfigError, match="unbalanced"):
        read_server_config("server { listen 443 ssl; }}", kind="nginx")
    with pytest.raises(ConfigError, match="unterminated"):
        read_server_config("server { listen 443 ssl;", kind="nginx")
    with pytest.raises(ConfigError, match="no TLS server block"):
        read_server_config("events { worker_connections 10; }", kind="nginx")


# --- Apigee ------------------------------------------------------------------------------------

TARGET_XML = """<TargetEndpoint name="default">
  <HTTPTargetConnection>
    <SSLInfo>
      <Enabled>true</Enabled>
      <Protocols><Protocol>TLSv1.2</Protocol></Protocols>
      <Ciphers>
        <Cipher>TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256</Cipher>
        <Cipher>SSL_RSA_WITH_3DES_EDE_CBC_SHA</Cipher>
      </Ciphers>
    </SSLInfo>
    <URL>https://backend.example.com/v1</URL>
  </HTTPTargetConnection>
</TargetEndpoint>"""


def test_apigee_target_xml_uses_java_names_and_the_jvm_filter() -> None:
    cfg = read_server_config(TARGET_XML)
    assert cfg.source == "apigee-target" and cfg.stack == "java"
    assert cfg.versions == frozenset({0x0303})
    assert cfg.cipher_suites == [C02F]  # 3DES is listed but the JVM's disabledAlgorithms drops it
    assert any("3DES" in c for c in cfg.caveats)
    assert cfg.server_names == ["backend.example.com"]


def test_apigee_target_with_empty_lists_means_jvm_defaults() -> None:
    xml = "<TargetServer name='ts'><Host>b.example.com</Host><Port>443</Port><SSLInfo><Enabled>true</Enabled></SSLInfo></TargetServer>"
    cfg = read_server_config(xml)
    assert cfg.source == "apigee-targetserver"
    assert cfg.versions == frozenset({0x0303, 0x0304})
    assert C02F in cfg.cipher_suites and 0x1301 in cfg.tls13_suites
    assert any("JVM's defaults" in c for c in cfg.caveats)


def test_apigee_targetserver_json() -> None:
    body = {"name": "ts", "host": "b.example.com", "port": 443, "isEnabled": True,
            "sSLInfo": {"enabled": "true", "protocols": ["TLSv1.2"],
                        "ciphers": ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]}}
    cfg = read_server_config(json.dumps(body))
    assert cfg.source == "apigee-targetserver"
    assert cfg.cipher_suites == [0xC030] and cfg.server_names == ["b.example.com"]


@needs_openssl
def test_apigee_virtual_host_uses_openssl_strings() -> None:
    body = {"name": "secure", "hostAliases": ["api.example.com"], "port": "443",
            "sSLInfo": {"enabled": "true"},
            "properties": {"property": [{"name": "ssl_ciphers", "value": "ECDHE-RSA-AES128-GCM-SHA256"},
                                        {"name": "ssl_protocols", "value": "TLSv1.2"}]}}
    cfg = read_server_config(json.dumps(body))
    assert cfg.source == "apigee-virtualhost"
    assert (cfg.cipher_suites, cfg.versions, cfg.server_names) == ([C02F], frozenset({0x0303}), ["api.example.com"])


def test_apigee_errors_are_typed() -> None:
    with pytest.raises(ConfigError, match="well-formed"):
        read_server_config("<TargetEndpoint><SSLInfo></TargetEndpoint>")
    with pytest.raises(ConfigError, match="no <SSLInfo>"):
        read_server_config("<TargetEndpoint name='x'><HTTPTargetConnection/></TargetEndpoint>")
    with pytest.raises(ConfigError, match="unknown cipher names"):
        read_server_config("<TargetServer><SSLInfo><Ciphers><Cipher>TLS_BOGUS</Cipher></Ciphers></SSLInfo></TargetServer>")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_server_config('{"sSLInfo": ', kind="apigee-json")


# --- JSSE --------------------------------------------------------------------------------------


def test_jsse_profiles_differ_by_release() -> None:
    j8, j11, j17 = (ciphers.read_jsse(v) for v in (8, 11, 17))
    chacha = 0xCCA8
    assert chacha in j17.cipher_suites and chacha not in j11.cipher_suites  # ChaCha20 suites: JDK 12+
    assert j17.tls13_suites == [0x1302, 0x1301, 0x1303]
    assert j8.tls13_suites == [0x1301, 0x1302]
    # current defaults disable TLS 1.0/1.1, 3DES and static ECDH everywhere
    for cfg in (j8, j11, j17):
        assert cfg.versions == frozenset({0x0303, 0x0304})
        assert 0x000A not in cfg.cipher_suites and 0xC02D not in cfg.cipher_suites
        assert cfg.stack == "java"


def test_jsse_disabled_algorithms_applied() -> None:
    old = ciphers.read_jsse(11, disabled_algorithms="SSLv3, RC4")
    assert {0x0301, 0x0302} <= old.versions  # TLS 1.0/1.1 come back when not disabled
    assert 0x000A in old.cipher_suites and 0xC02D in old.cipher_suites
    strict = ciphers.read_jsse(17, disabled_algorithms="TLSv1, TLSv1.1, CBC, RSA")
    assert all(registry.cipher_suite(c).aead for c in strict.cipher_suites)
    assert all(registry.cipher_suite(c).auth != "RSA" for c in strict.cipher_suites)


def test_java_security_text_is_a_jsse_source() -> None:
    text = ("java.version=11.0.22\n"
            "jdk.tls.disabledAlgorithms=SSLv3, TLSv1, TLSv1.1, RC4, DES, \\\n    3DES_EDE_CBC, anon, NULL\n"
            "jdk.tls.server.protocols=TLSv1.2\n")
    cfg = read_server_config(text)
    assert cfg.source == "jsse" and cfg.origin == "text"
    assert cfg.versions == frozenset({0x0303})
    assert 0xC02D in cfg.cipher_suites  # static ECDH is not in this (older) value
    assert any("Java 11" in c for c in cfg.caveats)


# --- detection and what-if ---------------------------------------------------------------------


@pytest.mark.parametrize(("text", "kind"), [
    ("HIGH:!aNULL:!MD5", "openssl"),
    ("ECDHE-RSA-AES128-GCM-SHA256:AES256-SHA", "names"),
    ("server { listen 443 ssl; }", "nginx"),
    ("ssl_ciphers HIGH;", "nginx"),
    ("<TargetEndpoint/>", "apigee-xml"),
    ('{"host": "x"}', "apigee-json"),
    ("jdk.tls.disabledAlgorithms=SSLv3", "jsse"),
])
def test_detect_kind(text: str, kind: str) -> None:
    assert ciphers.detect_kind(text) == kind


def test_missing_file_and_empty_text() -> None:
    with pytest.raises(ConfigError, match="file not found"):
        read_server_config("/nonexistent/nginx.conf")
    with pytest.raises(ConfigError, match="empty configuration"):
        read_server_config("   ")


def test_what_if_edits_return_new_configs() -> None:
    cfg = ServerConfig(frozenset({0x0303}), [0x0035])
    more = cfg.with_suites(add=["ECDHE-RSA-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256"], remove=[0x0035])
    assert (more.cipher_suites, more.tls13_suites) == ([C02F], [0x1301])
    assert cfg.cipher_suites == [0x0035]  # unchanged
    assert cfg.with_versions(["TLSv1.3"]).versions == frozenset({0x0304})
    with pytest.raises(ConfigError):
        cfg.with_suites(add=["NOPE"])
    df = more.describe()
    assert list(df["name"]) == ["TLS_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
    assert list(df["strength"]) == ["recommended", "recommended"]
