"""The analyst artifacts next to each lab capture: truststores, chains, configurations."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from tests.conftest import requires_java
from tlskit import lab
from tlskit.lab import _java


def _built(lab_dir: Path) -> list[Path]:
    return sorted(p for p in lab_dir.iterdir() if (p / "answer.json").exists())


def test_no_private_key_outside_private(lab_dir: Path) -> None:
    for folder in _built(lab_dir):
        for f in folder.iterdir():
            if f.is_file():
                assert b"PRIVATE KEY" not in f.read_bytes(), f
        # the keys the peers needed are kept apart
        assert (folder / "private" / "server.key").exists()


@requires_java
def test_truststore_formats_hold_the_same_roots(lab_dir: Path) -> None:
    folder = lab_dir / "unknown_ca_tls12"
    pem = x509.load_pem_x509_certificates((folder / "truststore.pem").read_bytes())
    p12 = pkcs12.load_pkcs12((folder / "truststore.p12").read_bytes(), b"changeit")
    in_p12 = [c.certificate for c in p12.additional_certs]
    assert [c.fingerprint(_sha256()) for c in in_p12] == [c.fingerprint(_sha256()) for c in pem]
    assert [c.subject.rfc4514_string() for c in pem] == ["CN=tlskit Lab Root CA,O=tlskit lab,C=JP"]
    assert (folder / "truststore.jks").read_bytes()[:4] == b"\xfe\xed\xfe\xed"  # JKS magic


def _sha256() -> object:
    from cryptography.hazmat.primitives import hashes

    return hashes.SHA256()


def test_server_chain_and_certinfo(lab_dir: Path) -> None:
    folder = lab_dir / "expired_tls12"
    chain = x509.load_pem_x509_certificates((folder / "server-chain.pem").read_bytes())
    assert [c.subject.rfc4514_string().split(",")[0] for c in chain] == [
        "CN=api.backend.example", "CN=tlskit Lab Issuing CA 1"]
    info = json.loads((folder / "truststore-certinfo.json").read_text())
    entry = info["aliases"][0]
    assert entry["type"] == "cert" and entry["alias"] == "tlskit-lab-root-ca"
    cert = entry["certsInfo"]["certInfo"][0]
    assert cert["isValid"] == "Yes" and cert["basicConstraints"] == "CA:TRUE,pathlen:1"
    assert cert["sigAlgName"] == "SHA256withECDSA" and cert["publicKey"] == "EC Public Key, 256 bits"
    assert cert["validFrom"] < cert["expiryDate"]


def test_client_keystore_listing_for_mtls(lab_dir: Path) -> None:
    info = json.loads((lab_dir / "mtls_expired_tls12" / "keystore-certinfo.json").read_text())
    entry = info["aliases"][0]
    assert entry["type"] == "keycertpair" and entry["keyName"] == "mp-client-key"
    # judged at the capture's time: the lab made it expired then
    assert entry["certsInfo"]["certInfo"][0]["isValid"] == "No"
    sslinfo = ET.fromstring((lab_dir / "mtls_expired_tls12" / "sslinfo.xml").read_text())
    assert sslinfo.findtext(".//ClientAuthEnabled") == "true"
    assert sslinfo.findtext(".//KeyAlias") == "mp-client"
    missing = ET.fromstring((lab_dir / "mtls_missing_tls12" / "sslinfo.xml").read_text())
    assert missing.findtext(".//ClientAuthEnabled") == "false"


def test_sslinfo_lists_the_clients_settings(lab_dir: Path) -> None:
    root = ET.fromstring((lab_dir / "cipher_mismatch_tls12" / "sslinfo.xml").read_text())
    assert [p.text for p in root.iter("Protocol")] == ["TLSv1.2"]
    assert [c.text for c in root.iter("Cipher")] == [
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"]
    old = ET.fromstring((lab_dir / "protocol_old_client" / "sslinfo.xml").read_text())
    assert [p.text for p in old.iter("Protocol")] == ["TLSv1", "TLSv1.1"]


def test_nginx_snippets(lab_dir: Path) -> None:
    text = (lab_dir / "cipher_mismatch_tls12" / "nginx.conf").read_text()
    assert "ssl_protocols TLSv1.2;" in text and "ssl_ciphers AES256-SHA;" in text
    sni = (lab_dir / "sni_missing_tls12" / "nginx.conf").read_text()
    assert "ssl_reject_handshake on;" in sni and "server_name api.backend.example;" in sni
    mtls = (lab_dir / "mtls_missing_tls13" / "nginx.conf").read_text()
    assert "ssl_verify_client on;" in mtls
    assert "ssl_ecdh_curve secp384r1;" in (lab_dir / "ok_hrr_tls13" / "nginx.conf").read_text()


def test_nginx_snippet_reads_back(lab_dir: Path) -> None:
    ciphers = pytest.importorskip("tlskit.ciphers")
    if not hasattr(ciphers, "read_server_config"):
        pytest.skip("tlskit.ciphers.read_server_config not written yet")
    cfg = ciphers.read_server_config(lab_dir / "cipher_mismatch_tls12" / "nginx.conf")
    assert cfg.versions == frozenset({0x0303})
    assert cfg.cipher_suites == [0x0035]
    assert ciphers.read_server_config(lab_dir / "sni_missing_tls12" / "nginx.conf").sni_required


@requires_java
def test_java_server_scenario_keeps_its_stores(lab_dir: Path) -> None:
    folder = lab_dir / "java_server_mtls_missing_tls12"
    assert (folder / "client-ca.jks").exists() and (folder / "jsse-debug.log").stat().st_size > 0
    assert (folder / "private" / "server.p12").exists()
    cmd = (lab_dir / "java_sni_warning_tls12" / "server-command.txt").read_text()
    assert "openssl s_server" in cmd and "-servername www.backend.example" in cmd


def test_java_scenarios_skip_without_a_jdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no java on PATH the Java scenarios come back skipped, with the reason; others build."""
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", f"{empty}")
    assert _java.unavailable(lab.SCENARIOS["java_ok_tls13"]) is not None
    results = lab.build(tmp_path / "out", ["java_ok_tls13", "ok_tls12"])
    assert results[0].skipped and "JDK" in results[0].skipped and results[0].capture is None
    assert results[1].skipped is None and results[1].capture and results[1].capture.exists()
    assert "truststore_pem" in results[1].artifacts
    assert "truststore_jks" not in results[1].artifacts  # keytool is part of the JDK


def test_unknown_scenario_is_a_lab_error(tmp_path: Path) -> None:
    from tlskit.errors import LabError

    with pytest.raises(LabError, match="no_such_case"):
        lab.build(tmp_path, ["no_such_case"])


def test_scenario_catalogue() -> None:
    from tlskit.schema import CAUSES

    for sc in lab.SCENARIOS.values():
        assert sc.cause in CAUSES
        assert (sc.fault is None) == (sc.cause == "ok")
        assert (sc.alert is None) == (sc.cause in ("ok", "connection_reset"))
        assert sc.fix
    covered = {sc.cause for sc in lab.SCENARIOS.values()}
    assert covered == set(CAUSES) - {"undetermined"}
