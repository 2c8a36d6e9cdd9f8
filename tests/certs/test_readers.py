"""Truststore readers on stores written by the real tools (keytool, openssl) at test time."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from tests.certs.pki import der, make_pki, pem
from tests.conftest import IN_CI
from tlskit.certs import Truststore, load_truststore, system_truststore, verify_chain
from tlskit.certs._store import dn
from tlskit.errors import TruststoreError

KEYTOOL = shutil.which("keytool")
# As tests/conftest.py does for its tools: in CI a missing keytool is a failure, not a skip.
needs_keytool = pytest.mark.skipif(KEYTOOL is None and not IN_CI,
                                   reason="keytool (JDK) not installed: JKS/PKCS12 fixtures skipped")


@pytest.fixture(scope="module")
def pki_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """root.pem, inter.pem, bundle.pem (both) and root.der of one synthetic PKI."""
    d = tmp_path_factory.mktemp("pki")
    pki = make_pki()
    (d / "root.pem").write_bytes(pem(pki.root))
    (d / "inter.pem").write_bytes(pem(pki.inter))
    (d / "bundle.pem").write_bytes(b"# a comment line\n" + pem(pki.root) + b"\n" + pem(pki.inter))
    (d / "root.der").write_bytes(der(pki.root))
    (d / "leaf.der").write_bytes(der(pki.leaf))
    return {p.stem + p.suffix: p for p in d.iterdir()} | {"dir": d}


def _keytool(*args: str, cwd: Path) -> None:
    assert KEYTOOL is not None
    subprocess.run([KEYTOOL, *args], check=True, capture_output=True, cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def java_stores(pki_files: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Stores as keytool writes them: JKS, PKCS12 (current algorithms) and PKCS12 (Java 8-era)."""
    if KEYTOOL is None and not IN_CI:
        pytest.skip("keytool not installed")
    d = tmp_path_factory.mktemp("keytool")
    out = {}
    for kind, extra in (("jks", ["-storetype", "JKS"]), ("jceks", ["-storetype", "JCEKS"]), ("p12", ["-storetype", "PKCS12"]),
                        ("legacy.p12", ["-J-Dkeystore.pkcs12.legacy", "-storetype", "PKCS12"])):
        store = d / f"trust.{kind}"
        for alias, f in (("testroot", "root.pem"), ("issuing", "inter.pem")):
            _keytool(*extra[:1] if kind == "legacy.p12" else [], "-importcert", "-noprompt", "-alias", alias,
                     "-file", str(pki_files[f]), "-keystore", str(store), *extra[-2:], "-storepass", "changeit", cwd=d)
        out[kind] = store
    # A keystore with a private-key entry besides the trusted certificate.
    mixed = d / "mixed.jks"
    _keytool("-genkeypair", "-keyalg", "EC", "-alias", "server", "-dname", "CN=server.test", "-keystore", str(mixed),
             "-storetype", "JKS", "-storepass", "s3cret", "-keypass", "s3cret", cwd=d)
    _keytool("-importcert", "-noprompt", "-alias", "testroot", "-file", str(pki_files["root.pem"]),
             "-keystore", str(mixed), "-storetype", "JKS", "-storepass", "s3cret", cwd=d)
    out["mixed"] = mixed
    return out


def test_pem_bundle(pki_files: dict[str, Path]) -> None:
    ts = load_truststore(pki_files["bundle.pem"])
    assert ts.kind == "pem" and len(ts) == 2
    assert [e.subject for e in ts] == ["O=tlskit test,CN=Test Root CA", "O=tlskit test,CN=Test Issuing CA"]
    assert all(e.sha256 and len(e.sha256) == 64 for e in ts)


def test_single_der_file_and_directory(pki_files: dict[str, Path]) -> None:
    ts = load_truststore(pki_files["root.der"])
    assert ts.kind == "der" and ts.entries[0].alias == "root.der"
    d = load_truststore(pki_files["dir"])
    assert d.kind == "directory"
    # root.pem, root.der and bundle.pem hold the same root: it is listed once.
    subjects = sorted(e.subject for e in d)
    assert subjects == sorted({"O=tlskit test,CN=Test Root CA", "O=tlskit test,CN=Test Issuing CA",
                               "O=tlskit test,CN=api.example.com"})


@needs_keytool
@pytest.mark.parametrize("kind", ["jks", "jceks", "p12", "legacy.p12"])
def test_keytool_stores(java_stores: dict[str, Path], kind: str) -> None:
    ts = load_truststore(java_stores[kind], password="changeit")
    assert ts.kind == {"jks": "jks", "jceks": "jceks"}.get(kind, "pkcs12")
    assert sorted(e.alias for e in ts) == ["issuing", "testroot"]
    assert ts.notes == ()
    pki_root = next(e for e in ts if e.alias == "testroot")
    assert pki_root.subject == "O=tlskit test,CN=Test Root CA"


@needs_keytool
@pytest.mark.parametrize("kind", ["jks", "jceks", "p12", "legacy.p12"])
def test_wrong_password_is_a_clear_error(java_stores: dict[str, Path], kind: str) -> None:
    with pytest.raises(TruststoreError) as err:
        load_truststore(java_stores[kind], password="not-it")
    assert "wrong keystore password" in str(err.value)
    assert err.value.path == str(java_stores[kind]) and err.value.fix


@needs_keytool
def test_jks_without_password_skips_the_integrity_check(java_stores: dict[str, Path]) -> None:
    ts = load_truststore(java_stores["jks"])
    assert len(ts) == 2 and "integrity was not checked" in ts.notes[0]


@needs_keytool
def test_private_key_entries_are_not_trust_anchors(java_stores: dict[str, Path]) -> None:
    ts = load_truststore(java_stores["mixed"], password="s3cret")
    assert [e.alias for e in ts] == ["testroot"]
    assert any("'server'" in n and "private_key" in n for n in ts.notes)


@needs_keytool
def test_keytool_store_verifies_a_chain(java_stores: dict[str, Path], pki_files: dict[str, Path]) -> None:
    from tests.certs.pki import T0

    ts = load_truststore(java_stores["p12"], password="changeit")
    v = verify_chain([pki_files["leaf.der"].read_bytes()], truststore=ts, at=T0)
    assert v.verdict == "trusted" and v.anchor is not None and v.anchor.alias == "issuing"


@needs_keytool
def test_compare_and_verify_take_a_path(java_stores: dict[str, Path], pki_files: dict[str, Path]) -> None:
    from tests.certs.pki import T0
    from tlskit.certs import compare_certificates

    leaf = pki_files["leaf.der"].read_bytes()
    df = compare_certificates([leaf], str(java_stores["p12"]), password="changeit", at=T0)
    assert list(df.chain_verdict.astype(str)) == ["trusted"] and df.issuer_in_truststore.iloc[0]
    assert verify_chain([leaf], truststore=pki_files["bundle.pem"], at=T0).verdict == "trusted"
    with pytest.raises(TruststoreError, match="needs a password"):
        compare_certificates([leaf], java_stores["p12"], at=T0)


@needs_keytool
def test_truncated_jks_is_damaged(java_stores: dict[str, Path], tmp_path: Path) -> None:
    bad = tmp_path / "cut.jks"
    bad.write_bytes(java_stores["jks"].read_bytes()[:200])
    with pytest.raises(TruststoreError, match="damaged Java keystore"):
        load_truststore(bad, password="changeit")


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_openssl_certificate_only_pkcs12(pki_files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "certs.p12"
    subprocess.run(["openssl", "pkcs12", "-export", "-nokeys", "-in", str(pki_files["bundle.pem"]), "-out", str(out),
                    "-passout", "pass:pw"], check=True, capture_output=True)
    ts = load_truststore(out, password="pw")
    assert ts.kind == "pkcs12" and len(ts) == 2
    with pytest.raises(TruststoreError, match="needs a password"):
        load_truststore(out)


def test_missing_empty_and_unknown_files(tmp_path: Path) -> None:
    with pytest.raises(TruststoreError, match="not found"):
        load_truststore(tmp_path / "nope.jks")
    (tmp_path / "empty.pem").write_bytes(b"")
    with pytest.raises(TruststoreError, match="empty"):
        load_truststore(tmp_path / "empty.pem")
    (tmp_path / "notes.txt").write_bytes(b"hello, this is not a truststore\n")
    with pytest.raises(TruststoreError, match="unknown truststore format") as err:
        load_truststore(tmp_path / "notes.txt")
    assert "keytool -exportcert" in (err.value.fix or "")
    (tmp_path / "broken.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(TruststoreError, match="no certificate could be read"):
        load_truststore(tmp_path / "broken.pem")


# The shape of Apigee's GET .../keystores/{name}/certs/{alias} response (Edge management API).
APIGEE = {
    "certInfo": [
        {
            "basicConstraints": "CA:TRUE",
            "expiryDate": 0,
            "isValid": "Yes",
            "issuer": "",
            "publicKey": "EC Public Key, 256 bits",
            "serialNumber": "",
            "sigAlgName": "SHA256withECDSA",
            "subject": "",
            "validFrom": 0,
            "version": 3,
        }
    ],
    "certName": "issuing-ca",
}


def test_apigee_certinfo_matches_by_dn_and_serial(tmp_path: Path) -> None:
    from tests.certs.pki import T0

    pki = make_pki()
    info = dict(APIGEE["certInfo"][0])  # type: ignore[index]
    # Apigee prints DNs the Java way (", " separated) and serials as colon-separated hex.
    info["subject"] = "CN=Test Issuing CA, O=tlskit test"
    info["issuer"] = "CN=Test Root CA, O=tlskit test"
    serial = f"{pki.inter.serial_number:x}"
    serial = "0" * (len(serial) % 2) + serial
    info["serialNumber"] = ":".join(serial[i : i + 2] for i in range(0, len(serial), 2))
    info["validFrom"] = int(pki.inter.not_valid_before_utc.timestamp() * 1000)
    info["expiryDate"] = int(pki.inter.not_valid_after_utc.timestamp() * 1000)
    f = tmp_path / "certs.json"
    f.write_text(json.dumps({**APIGEE, "certInfo": [info]}))
    ts = load_truststore(f)
    assert ts.kind == "apigee" and ts.entries[0].alias == "issuing-ca" and ts.entries[0].sha256 is None
    entry, how = ts.find(pki.inter)
    assert entry is not None and how == "dn_serial"
    assert ts.find(pki.root) == (None, None)
    v = verify_chain([der(pki.leaf)], truststore=ts, at=T0)
    assert v.verdict == "trusted" and "matched by name only" in v.explanation
    # Its printed validity is still checked: judged after the entry's expiryDate it has expired.
    late = verify_chain([der(pki.leaf)], truststore=ts, at=pki.inter.not_valid_after_utc + timedelta(days=1))
    assert "expired" in [p.code for p in late.problems]
    assert any(p.position is None and p.subject == info["subject"] for p in late.problems)
    (tmp_path / "bad.json").write_text('{"certName": "x"}')
    with pytest.raises(TruststoreError, match="no certInfo"):
        load_truststore(tmp_path / "bad.json")


def test_apigee_entry_naming_a_self_signed_leaf_trusts_it(tmp_path: Path) -> None:
    from tests.certs.pki import T0, ec_key, make_cert, name

    leaf = make_cert(name("pinned.example.com"), ec_key(), dns=["pinned.example.com"])
    info = dict(APIGEE["certInfo"][0])  # type: ignore[index]
    info.update(subject="CN=pinned.example.com, O=tlskit test", issuer="CN=pinned.example.com, O=tlskit test",
                serialNumber=f"{leaf.serial_number:x}")
    (tmp_path / "pinned.json").write_text(json.dumps({"certName": "pinned", "certInfo": [info]}))
    v = verify_chain([der(leaf)], truststore=tmp_path / "pinned.json", at=T0)
    assert v.verdict == "trusted" and "matched by name only" in v.explanation
    other = make_cert(name("pinned.example.com"), ec_key())  # same DN, other serial: not the listed one
    assert verify_chain([der(other)], truststore=tmp_path / "pinned.json", at=T0).verdict == "self_signed"


def test_system_store_is_read() -> None:
    try:
        ts = system_truststore()
    except TruststoreError:
        pytest.skip("no system CA bundle on this machine")
    assert ts.kind == "system" and len(ts) > 20
    assert load_truststore("system").source == ts.source
    assert all(e.certificate is not None for e in ts)


def test_from_certificates_accepts_pem_and_der() -> None:
    pki = make_pki()
    ts = Truststore.from_certificates([pem(pki.root), der(pki.inter)])
    assert [e.subject for e in ts] == [dn(pki.root.subject), dn(pki.inter.subject)]
