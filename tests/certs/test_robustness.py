"""Damaged input never raises out of verify_chain / compare_certificates: it becomes a verdict."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.certs.pki import T0, der, make_pki
from tlskit.certs import VERDICTS, Truststore, compare_certificates, verify_chain

PKI = make_pki()
STORE = Truststore.from_certificates([PKI.root])
LEAF = der(PKI.leaf)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=len(LEAF) - 1), st.integers(min_value=1, max_value=255))
def test_flipped_byte_in_the_leaf(offset: int, xor: int) -> None:
    raw = bytearray(LEAF)
    raw[offset] ^= xor
    v = verify_chain([bytes(raw), der(PKI.inter)], truststore=STORE, hostname="api.example.com", at=T0)
    assert v.verdict in VERDICTS
    assert v.verdict != "trusted"  # every byte of a certificate is covered by its signature or its parsing


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(max_size=64), max_size=3))
def test_random_bytes_chain(chain: list[bytes]) -> None:
    v = verify_chain(chain, truststore=STORE, at=T0)
    assert v.verdict in ("no_certificate", "malformed", "bad_signature")
    df = compare_certificates(chain, STORE, at=T0)
    assert len(df) == len(chain)
