"""The generated registry: names, attributes, placeholders, provenance, and tshark agreement."""

from __future__ import annotations

import csv
import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import requires_tshark
from tlskit import registry as reg

DATA = Path(reg.__file__).with_name("data")


def test_names_of_common_codes() -> None:
    assert reg.cipher_suite_name(0xC02F) == "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"
    assert reg.cipher_suite_name(0x1301) == "TLS_AES_128_GCM_SHA256"
    assert reg.version_name(0x0303) == "TLSv1.2"
    assert reg.version_name(0x0304) == "TLSv1.3"
    assert reg.version_name(0x7F17) == "TLSv1.3-draft23"
    assert reg.alert_name(40) == "handshake_failure"
    assert reg.alert_name(121) == "ech_required"
    # dpkt's hand-typed table lacks these (STYLE.md): the registry must have them
    assert [reg.alert_name(c) for c in (86, 109, 116, 120)] == [
        "inappropriate_fallback", "missing_extension", "certificate_required", "no_application_protocol"]
    assert reg.group_name(29) == "x25519"
    assert reg.group_name(4588) == "X25519MLKEM768"
    assert reg.signature_scheme_name(0x0804) == "rsa_pss_rsae_sha256"
    assert reg.extension_name(0) == "server_name"
    assert reg.extension_name(65037) == "encrypted_client_hello"
    assert reg.handshake_type_name(14) == "server_hello_done"
    assert reg.content_type_name(23) == "application_data"
    assert reg.alert_level_name(2) == "fatal"


def test_unknown_codes_get_placeholders_not_errors() -> None:
    assert reg.cipher_suite_name(0x1234) == "unknown(0x1234)"
    assert reg.alert_name(250) == "unknown(0xfa)"
    assert reg.extension_name(0x7777) == "unknown(0x7777)"
    assert reg.version_name(0x0305) == "unknown(0x0305)"
    s = reg.cipher_suite(0x1234)
    assert (s.known, s.strength, s.name) == (False, "unknown", "unknown(0x1234)")
    assert reg.cipher_suite("NOT-A-SUITE").known is False
    assert reg.cipher_suite_code("NOT-A-SUITE") is None


@pytest.mark.parametrize("code", [0x0A0A, 0x1A1A, 0xFAFA])
def test_grease_everywhere(code: int) -> None:
    assert reg.is_grease(code)
    assert reg.cipher_suite_name(code) == "GREASE"
    assert reg.extension_name(code) == "GREASE"
    assert reg.group_name(code) == "GREASE"
    assert reg.version_name(code) == "GREASE"
    assert reg.cipher_suite(code).grease and reg.cipher_suite(code).strength == "n/a"
    assert not reg.is_grease(0x0A1A)


def test_three_vocabularies_resolve_to_one_code() -> None:
    for name in ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384", "0xC030", "0xC0,0x30"):
        assert reg.cipher_suite_code(name) == 0xC030, name
    # JSSE's SSL_ legacy names and their TLS_ aliases
    assert reg.java_name(0x000A) == "SSL_RSA_WITH_3DES_EDE_CBC_SHA"
    assert reg.cipher_suite_code("SSL_RSA_WITH_3DES_EDE_CBC_SHA") == 0x000A
    assert reg.cipher_suite_code("TLS_RSA_WITH_3DES_EDE_CBC_SHA") == 0x000A
    assert reg.openssl_name(0x000A) == "DES-CBC3-SHA"
    assert reg.java_name(0x002F) == "TLS_RSA_WITH_AES_128_CBC_SHA"
    assert reg.openssl_name(0x002F) == "AES128-SHA"


def test_attributes_and_strength_rule() -> None:
    s = reg.cipher_suite(0xC02F)
    assert (s.kx, s.auth, s.cipher, s.mac, s.aead, s.forward_secrecy, s.strength) == (
        "ECDHE", "RSA", "AES_128_GCM", "SHA256", True, True, "recommended")
    t = reg.cipher_suite(0x1302)
    assert (t.tls13, t.kx, t.aead, t.forward_secrecy, t.strength) == (True, "any", True, True, "recommended")
    assert reg.cipher_suite(0x009C).strength == "weak"  # RSA key exchange: no forward secrecy
    assert reg.cipher_suite(0xC013).strength == "weak"  # CBC with SHA-1 MAC
    assert reg.cipher_suite(0x0005).strength == "insecure"  # RC4
    assert reg.cipher_suite(0x0034).strength == "insecure"  # anonymous DH
    assert reg.cipher_suite(0x0002).strength == "insecure"  # NULL cipher
    assert reg.cipher_suite(0x0003).strength == "insecure"  # export
    assert reg.cipher_suite(0xC0AE).strength == "secure"  # CCM_8 with ECDHE: good but not IANA-recommended
    assert reg.cipher_suite(0x00FF).strength == "n/a"  # SCSV
    assert reg.strength_rank("recommended") < reg.strength_rank("weak") < reg.strength_rank("unknown")


def test_version_and_group_codes_from_config_spellings() -> None:
    for text, code in [("TLSv1.2", 0x0303), ("TLSv1_2", 0x0303), ("tls1.3", 0x0304), ("SSLv3", 0x0300),
                       ("TLSv1", 0x0301), ("1.1", 0x0302), ("0x0303", 0x0303)]:
        assert reg.version_code(text) == code, text
    assert reg.version_code("TLSv9") is None
    assert reg.group_code("prime256v1") == 23
    assert reg.group_code("x25519") == 29


def test_frames_have_declared_columns() -> None:
    df = reg.cipher_suites()
    assert str(df["code"].dtype) == "UInt16"
    assert {"name", "openssl_name", "java_name", "strength", "forward_secrecy"} <= set(df.columns)
    assert set(df["strength"].dropna()) <= {*reg.STRENGTHS, "n/a"}
    alerts = reg.table("alerts")
    assert alerts.loc[alerts["code"] == 48, "name"].item() == "unknown_ca"
    assert "versions" in reg.tables()
    with pytest.raises(KeyError):
        reg.table("nope")


def test_provenance_matches_files() -> None:
    prov = reg.provenance()
    for fname, meta in prov["inputs"].items():
        path = DATA / "iana" / fname
        assert hashlib.sha256(path.read_bytes()).hexdigest() == meta["sha256"], fname
        with path.open(newline="", encoding="utf-8") as fh:
            assert sum(1 for _ in csv.DictReader(fh)) == meta["rows"], fname
        assert meta["kind"] in {"verbatim", "transcribed"}
    for fname, meta in prov["outputs"].items():
        path = DATA / fname
        assert hashlib.sha256(path.read_bytes()).hexdigest() == meta["sha256"], fname
        if "rows" in meta:
            with path.open(newline="", encoding="utf-8") as fh:
                assert sum(1 for _ in csv.DictReader(fh)) == meta["rows"], fname
    assert "insecure" in prov["strength_rule"]
    assert prov["openssl"]["version"].startswith("OpenSSL")


def test_every_iana_suite_is_in_the_table() -> None:
    with (DATA / "iana" / "tls-parameters-4.csv").open(newline="") as fh:
        names = {r["Description"] for r in csv.DictReader(fh) if r["Description"].startswith("TLS_")}
    assert names == {s for s in reg.cipher_suites()["name"] if s != "GREASE"}


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_openssl_names_agree_with_local_openssl() -> None:
    out = subprocess.run(["openssl", "ciphers", "-V", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"],
                         capture_output=True, text=True, check=True).stdout
    checked = 0
    for line in out.splitlines():
        hi, lo, name = line.split()[0].split(",")[0], line.split()[0].split(",")[1], line.split()[2]
        code = int(hi, 16) << 8 | int(lo, 16)
        assert reg.openssl_name(code) == name, (hex(code), name)
        assert reg.cipher_suite_code(name) == code
        checked += 1
    assert checked > 100


@pytest.fixture(scope="module")
def tshark_values() -> dict[str, dict[int, str]]:
    out = subprocess.run(["tshark", "-G", "values"], capture_output=True, text=True, check=True).stdout
    vals: dict[str, dict[int, str]] = {}
    for line in out.splitlines():
        p = line.split("\t")
        if len(p) >= 4 and p[0] == "V" and p[1].startswith("tls."):
            try:
                vals.setdefault(p[1], {})[int(p[2], 0)] = p[3]
            except ValueError:
                continue
    return vals


def _disagreements(values: dict[int, str], fn, norm=lambda s: s) -> tuple[int, list]:  # type: ignore[no-untyped-def]
    both = {c: n for c, n in values.items() if not fn(c).startswith("unknown(") and fn(c) != "GREASE"}
    return len(both), [(hex(c), n, fn(c)) for c, n in both.items() if norm(n) != norm(fn(c))]


@requires_tshark
def test_cipher_suite_names_match_tshark(tshark_values: dict[str, dict[int, str]]) -> None:
    n, bad = _disagreements(tshark_values["tls.handshake.ciphersuite"], reg.cipher_suite_name)
    assert n > 300 and bad == []


@requires_tshark
def test_alert_names_match_tshark(tshark_values: dict[str, dict[int, str]]) -> None:
    # Wireshark prints "Handshake Failure"; IANA "handshake_failure". Wireshark also lists 1
    # (end_of_early_data), which is a handshake type, not an alert.
    vals = {c: n for c, n in tshark_values["tls.alert_message.desc"].items() if c != 1}
    n, bad = _disagreements(vals, reg.alert_name, lambda s: s.lower().replace(" ", "_"))
    assert n >= 33 and bad == []


@requires_tshark
def test_extension_group_and_scheme_names_match_tshark(tshark_values: dict[str, dict[int, str]]) -> None:
    # Known, deliberate differences: IANA's spelling vs Wireshark 4.0's, BoringSSL's ALPS
    # code-point names, and OQS experimental groups that IANA later gave to ML-KEM.
    allowed = {"0x22", "0x35", "0x4469", "0xffa5", "0x200", "0x201", "0x202"}
    for field, fn in [("tls.handshake.extension.type", reg.extension_name),
                      ("tls.handshake.extensions_supported_group", reg.group_name),
                      ("tls.handshake.sig_hash_alg", reg.signature_scheme_name)]:
        n, bad = _disagreements(tshark_values[field], fn, lambda s: s.lower())
        assert n > 15, field
        assert [b for b in bad if b[0] not in allowed] == [], field
