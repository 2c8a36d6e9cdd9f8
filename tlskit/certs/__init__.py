"""Captured certificates vs truststores: read truststores, verify chains, compare.

    >>> from tlskit.certs import load_truststore, verify_chain
    >>> store = load_truststore("truststore.jks", password="changeit")
    >>> v = verify_chain(ders, truststore=store, hostname="api.example.com", at=capture_time)
    >>> v.verdict, v.explanation
    ('incomplete_chain', "error 20 at 0 depth lookup: unable to get local issuer certificate: ...")

Verdicts (``VERDICTS``) and what ``openssl verify`` would print for them:

==================  =======================================================================
trusted             ok
incomplete_chain    20 unable to get local issuer certificate (the leaf's issuer was not sent)
unknown_ca          20 ... (an intermediate's root is not trusted) / 19 self-signed
                    certificate in certificate chain (a sent root is not trusted)
self_signed         18 self-signed certificate (the leaf itself, not trusted)
expired             10 certificate has expired (judged at the capture's time)
not_yet_valid       9 certificate is not yet valid
hostname_mismatch   62 hostname mismatch / 64 IP address mismatch
bad_signature       7 certificate signature failure
weak                66/67 EE/CA certificate key too weak, 68 CA signature digest algorithm
                    too weak (RSA < 2048, EC < 224, MD5/SHA-1; what today's clients refuse)
malformed           the leaf cannot be parsed
unverified          no truststore given and nothing else wrong: trust not judged
no_certificate      the peer sent an empty chain
==================  =======================================================================

Problems are reported in OpenSSL's order: path building first, then the host name, then
signatures and validity from the root down, and weak algorithms last.
"""

from __future__ import annotations

from tlskit.certs._compare import (
    CERT_COMPARISON,
    CapturedChain,
    captured_chains,
    compare_certificates,
)
from tlskit.certs._hostname import HostnameCheck, check_hostname, wildcard_matches
from tlskit.certs._readers import SYSTEM_BUNDLES, as_truststore, load_truststore, system_truststore
from tlskit.certs._store import TrustEntry, Truststore
from tlskit.certs._verify import OPENSSL_ERRORS, VERDICTS, ChainVerdict, Problem, verify_chain

__all__ = [
    "CERT_COMPARISON",
    "OPENSSL_ERRORS",
    "SYSTEM_BUNDLES",
    "VERDICTS",
    "CapturedChain",
    "ChainVerdict",
    "HostnameCheck",
    "Problem",
    "TrustEntry",
    "Truststore",
    "as_truststore",
    "captured_chains",
    "check_hostname",
    "compare_certificates",
    "load_truststore",
    "system_truststore",
    "verify_chain",
    "wildcard_matches",
]
