"""verify_chain on synthetic PKIs: each verdict, its openssl wording and the certificate at fault."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from tests.certs.pki import T0, der, ec_key, make_cert, make_pki, name, pem
from tlskit.certs import Truststore, verify_chain
from tlskit.certs._store import dn


def test_complete_chain_to_trusted_root_is_trusted() -> None:
    pki = make_pki()
    store = Truststore.from_certificates([pki.root])
    v = verify_chain(pki.chain, truststore=store, hostname="api.example.com", at=T0)
    assert v.verdict == "trusted" and v.ok
    assert v.openssl_error == 0 and v.openssl_message == "ok"
    assert v.anchor is not None and v.anchor.subject == dn(pki.root.subject)
    assert v.path == (0, 1, None)  # leaf, intermediate as sent, then the truststore's root
    assert v.hostname_matches is True
    assert v.verifier == "ok"  # cryptography's verifier agrees at the capture time
    assert v.fault_position is None and v.problems == ()


def test_validity_is_judged_at_the_given_time_not_now() -> None:
    # Valid only around T0 (2024): a verifier using the wall clock would call it expired.
    pki = make_pki(leaf_kwargs={"not_before": T0 - timedelta(days=1), "not_after": T0 + timedelta(days=1)})
    store = Truststore.from_certificates([pki.root])
    assert verify_chain(pki.chain, truststore=store, at=T0).verdict == "trusted"
    later = verify_chain(pki.chain, truststore=store, at=T0 + timedelta(days=2))
    assert later.verdict == "expired"
    assert later.openssl_error == 10 and later.fault_position == 0


def test_naive_time_is_taken_as_utc() -> None:
    pki = make_pki()
    v = verify_chain(pki.chain, truststore=Truststore.from_certificates([pki.root]), at=T0.replace(tzinfo=None))
    assert v.verdict == "trusted" and v.at.utcoffset() == timedelta(0)


def test_leaf_only_chain_is_incomplete_and_names_the_missing_intermediate() -> None:
    pki = make_pki()
    v = verify_chain([der(pki.leaf)], truststore=Truststore.from_certificates([pki.root]), at=T0)
    assert v.verdict == "incomplete_chain"
    assert v.missing_issuer == dn(pki.inter.subject)
    assert v.fault_position == 0
    assert v.explanation.startswith("error 20 at 0 depth lookup: unable to get local issuer certificate")
    assert "Test Issuing CA" in v.remedy


def test_chain_from_a_root_the_store_lacks_is_unknown_ca() -> None:
    pki, other = make_pki(), make_pki(root_cn="Other Root")
    v = verify_chain(pki.chain, truststore=Truststore.from_certificates([other.root]), at=T0)
    assert v.verdict == "unknown_ca"
    assert v.missing_issuer == dn(pki.root.subject)
    assert v.fault_position == 1 and v.openssl_error == 20


def test_sent_root_that_is_not_trusted_is_self_signed_in_chain() -> None:
    pki, other = make_pki(), make_pki(root_cn="Other Root")
    chain = [*pki.chain, der(pki.root)]
    v = verify_chain(chain, truststore=Truststore.from_certificates([other.root]), at=T0)
    assert v.verdict == "unknown_ca"
    assert v.openssl_error == 19
    assert v.openssl_message == "self-signed certificate in certificate chain"
    assert v.fault_position == 2


def test_renewed_root_with_same_name_but_new_key_is_pointed_out() -> None:
    pki = make_pki()
    renamed = make_cert(pki.root.subject, ec_key(), ca=True)  # same DN, different key
    v = verify_chain(pki.chain, truststore=Truststore.from_certificates([renamed]), at=T0)
    assert v.verdict == "unknown_ca"
    assert "its key did not sign" in v.explanation


def test_self_signed_leaf() -> None:
    k = ec_key()
    leaf = make_cert(name("device.local"), k, dns=["device.local"])
    v = verify_chain([der(leaf)], truststore=Truststore.from_certificates([make_pki().root]), at=T0)
    assert v.verdict == "self_signed" and v.openssl_error == 18
    assert v.openssl_message == "self-signed certificate"
    # Trusted directly when it is itself in the truststore (pinned).
    pinned = verify_chain([der(leaf)], truststore=Truststore.from_certificates([leaf]), at=T0)
    assert pinned.verdict == "trusted"


def test_out_of_order_chain_with_extra_certificate_still_builds() -> None:
    pki, other = make_pki(), make_pki(root_cn="Other Root")
    chain = [der(pki.leaf), der(other.inter), der(pki.root), der(pki.inter)]
    v = verify_chain(chain, truststore=Truststore.from_certificates([pki.root]), at=T0)
    assert v.verdict == "trusted"
    assert v.path == (0, 3, None)  # the trusted copy of the root is preferred over the sent one


def test_truststore_holding_only_the_intermediate_anchors_there() -> None:
    pki = make_pki()
    v = verify_chain([der(pki.leaf)], truststore=Truststore.from_certificates([pki.inter]), at=T0)
    assert v.verdict == "trusted"
    assert v.anchor is not None and v.anchor.subject == dn(pki.inter.subject)


def test_expired_intermediate_is_the_fault() -> None:
    pki = make_pki()
    old_inter = make_cert(pki.inter.subject, pki.inter_key, issuer=pki.root.subject, issuer_key=pki.root_key,
                          ca=True, not_before=T0 - timedelta(days=800), not_after=T0 - timedelta(days=5))
    v = verify_chain([der(pki.leaf), der(old_inter)], truststore=Truststore.from_certificates([pki.root]), at=T0)
    assert v.verdict == "expired"
    assert v.fault_position == 1
    assert v.explanation.startswith("error 10 at 1 depth lookup: certificate has expired")


def test_not_yet_valid_leaf() -> None:
    pki = make_pki(leaf_kwargs={"not_before": T0 + timedelta(days=2)})
    v = verify_chain(pki.chain, truststore=Truststore.from_certificates([pki.root]), at=T0)
    assert v.verdict == "not_yet_valid" and v.openssl_error == 9 and v.fault_position == 0


def test_hostname_mismatch_lists_the_names_checked() -> None:
    pki = make_pki()
    store = Truststore.from_certificates([pki.root])
    v = verify_chain(pki.chain, truststore=store, hostname="www.example.com", at=T0)
    assert v.verdict == "hostname_mismatch" and v.openssl_error == 62
    assert v.names_checked == ("api.example.com", "*.apps.example.com")
    assert v.hostname_matches is False
    assert "api.example.com" in v.explanation
    # The wildcard covers one label only.
    assert verify_chain(pki.chain, truststore=store, hostname="x.apps.example.com", at=T0).verdict == "trusted"
    assert verify_chain(pki.chain, truststore=store, hostname="a.b.apps.example.com", at=T0).verdict == "hostname_mismatch"
    assert verify_chain(pki.chain, truststore=store, hostname="apps.example.com", at=T0).verdict == "hostname_mismatch"


def test_untrusted_chain_reports_trust_before_hostname() -> None:
    pki = make_pki()
    v = verify_chain([der(pki.leaf)], truststore=Truststore.from_certificates([pki.root]),
                     hostname="www.example.com", at=T0)
    assert v.verdict == "incomplete_chain"
    assert [p.code for p in v.problems] == ["incomplete_chain", "hostname_mismatch"]


def _openssl_sha1_leaf(ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, tmp: Path) -> bytes:
    """A leaf signed with SHA-1 by the real openssl CLI (cryptography refuses to sign SHA-1).

    openssl 3.0 dates it from the current time, so the test judges it at its own notBefore.
    """
    (tmp / "ca.pem").write_bytes(pem(ca))
    (tmp / "ca.key").write_bytes(ca_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    run = partial(subprocess.run, check=True, capture_output=True, cwd=tmp)
    run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", "leaf.key", "-subj", "/CN=api.example.com", "-out", "leaf.csr"])
    run(["openssl", "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "7",
         "-sha1", "-days", "3650", "-outform", "DER", "-out", "leaf.der"])
    return (tmp / "leaf.der").read_bytes()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_weak_rsa_key_and_sha1_signature(tmp_path: Path) -> None:
    pki = make_pki()
    store = Truststore.from_certificates([pki.root])
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    leaf = make_cert(name("api.example.com"), small, issuer=pki.inter.subject, issuer_key=pki.inter_key,
                     dns=["api.example.com"])
    v = verify_chain([der(leaf), der(pki.inter)], truststore=store, at=T0)
    assert v.verdict == "weak" and v.openssl_error == 66 and "1024 bits" in v.explanation
    ik = ec_key()
    inter = make_cert(name("Long-lived CA"), ik, issuer=pki.root.subject, issuer_key=pki.root_key, ca=True,
                      not_after=T0 + timedelta(days=3000))
    sha1 = _openssl_sha1_leaf(inter, ik, tmp_path)
    at = x509.load_der_x509_certificate(sha1).not_valid_before_utc + timedelta(minutes=1)
    v = verify_chain([sha1, der(inter)], truststore=store, at=at)
    assert v.verdict == "weak" and v.openssl_error == 68 and "SHA1" in v.explanation
    assert v.verifier.startswith("rejected")  # cryptography's verifier refuses SHA-1 too


def test_tampered_signature_is_a_signature_failure() -> None:
    pki = make_pki()
    raw = bytearray(der(pki.leaf))
    raw[-3] ^= 0x01  # inside the ECDSA signature's last integer
    v = verify_chain([bytes(raw), der(pki.inter)], truststore=Truststore.from_certificates([pki.root]), at=T0)
    assert v.verdict == "bad_signature"
    assert v.openssl_message == "certificate signature failure" and v.fault_position == 0


def test_structure_only_without_truststore() -> None:
    pki = make_pki()
    v = verify_chain(pki.chain, at=T0)
    assert v.verdict == "unverified" and v.structural_only
    assert v.missing_issuer == dn(pki.root.subject)
    assert "No truststore" in v.explanation
    with_root = verify_chain([*pki.chain, der(pki.root)], at=T0)
    assert with_root.verdict == "unverified" and "self-signed root" in with_root.explanation
    leaf_only = verify_chain([der(pki.leaf)], at=T0)
    assert leaf_only.verdict == "incomplete_chain"
    assert leaf_only.missing_issuer == dn(pki.inter.subject)
    assert "No truststore given" in leaf_only.explanation


def test_empty_and_garbage_chains() -> None:
    assert verify_chain([], at=T0).verdict == "no_certificate"
    v = verify_chain([b"\x30\x03\x02\x01\x01"], at=T0)
    assert v.verdict == "malformed" and v.fault_position == 0


def test_client_side_remedy_speaks_of_the_client() -> None:
    pki = make_pki()
    v = verify_chain([der(pki.leaf)], truststore=Truststore.from_certificates([pki.root]), at=T0, side="client")
    assert v.verdict == "incomplete_chain"
    assert v.remedy.startswith("Configure the client")


def test_ip_address_matches_only_san_ip() -> None:
    pki = make_pki()
    leaf = make_cert(name("10.0.0.5"), ec_key(), issuer=pki.inter.subject, issuer_key=pki.inter_key, ips=["10.0.0.5"])
    store = Truststore.from_certificates([pki.root])
    assert verify_chain([der(leaf), der(pki.inter)], truststore=store, hostname="10.0.0.5", at=T0).verdict == "trusted"
    cn_only = make_cert(name("10.0.0.6"), ec_key(), issuer=pki.inter.subject, issuer_key=pki.inter_key)
    v = verify_chain([der(cn_only), der(pki.inter)], truststore=store, hostname="10.0.0.6", at=T0)
    assert v.verdict == "hostname_mismatch" and v.openssl_message == "IP address mismatch"


def test_issuer_that_is_not_a_ca_is_refused() -> None:
    pki = make_pki()
    store = Truststore.from_certificates([pki.root])
    # An end-entity certificate (CA:FALSE) used to sign another certificate.
    ek = ec_key()
    not_ca = make_cert(name("Not A CA"), ek, issuer=pki.inter.subject, issuer_key=pki.inter_key, dns=["x.example"])
    leaf = make_cert(name("api.example.com"), ec_key(), issuer=not_ca.subject, issuer_key=ek, dns=["api.example.com"])
    v = verify_chain([der(leaf), der(not_ca), der(pki.inter)], truststore=store, at=T0)
    assert v.verdict == "unknown_ca" and v.openssl_error == 24
    assert v.openssl_message == "invalid CA certificate" and v.fault_position == 1
    assert "CA:FALSE" in v.explanation


def test_path_length_constraint() -> None:
    rk, ik, jk = ec_key(), ec_key(), ec_key()
    root = make_cert(name("Root"), rk, ca=True)
    # pathLen 0 on the first intermediate forbids a second intermediate below it.
    top = make_cert(name("Top CA"), ik, issuer=root.subject, issuer_key=rk, ca=True, path_length=0)
    sub = make_cert(name("Sub CA"), jk, issuer=top.subject, issuer_key=ik, ca=True)
    leaf = make_cert(name("api.example.com"), ec_key(), issuer=sub.subject, issuer_key=jk, dns=["api.example.com"])
    store = Truststore.from_certificates([root])
    v = verify_chain([der(leaf), der(sub), der(top)], truststore=store, at=T0)
    assert v.verdict == "unknown_ca" and v.openssl_error == 25 and v.fault_position == 2
    ok = verify_chain([der(leaf), der(sub)], truststore=Truststore.from_certificates([top]), at=T0)
    assert ok.verdict == "trusted"  # the constraint of a trust anchor itself is not applied
