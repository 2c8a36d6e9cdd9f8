"""compare_certificates on hand-built certificates tables and bare chains."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pandas as pd
import pytest

from tests.certs.pki import T0, der, make_pki, pem
from tlskit.certs import CERT_COMPARISON, Truststore, compare_certificates
from tlskit.certs._store import dn
from tlskit.schema import CERTIFICATES, CONNECTIONS, conform


def _table(chains: dict[tuple[int, str], list[bytes]], when: pd.Timestamp) -> pd.DataFrame:
    rows = [
        {"conn_id": cid, "side": side, "position": i, "frame": 5 + cid, "time": when + pd.Timedelta(seconds=cid), "der": d}
        for (cid, side), ders in chains.items()
        for i, d in enumerate(ders)
    ]
    return conform(rows, CERTIFICATES)


def test_one_row_per_certificate_with_chain_verdicts() -> None:
    pki = make_pki()
    store = Truststore.from_certificates([pki.root])
    certs = _table({(0, "server"): pki.chain, (1, "server"): [der(pki.leaf)]}, pd.Timestamp(T0))
    conns = conform([{"conn_id": 0, "sni": "api.example.com"}, {"conn_id": 1, "sni": "www.example.com"}], CONNECTIONS)
    cap = SimpleNamespace(certificates=certs, connections=conns)
    df = compare_certificates(cap, store)
    assert list(df.columns) == CERT_COMPARISON.names
    assert len(df) == 3
    c0 = df[df.conn_id == 0].sort_values("position")
    assert list(c0.chain_verdict.astype(str)) == ["trusted", "trusted"]
    assert list(c0.subject) == [dn(pki.leaf.subject), dn(pki.inter.subject)]
    assert list(c0.issuer_in_chain) == [True, False]
    assert list(c0.issuer_in_truststore) == [False, True]
    assert c0.signature_valid.all() and c0.in_path.all()
    assert c0.hostname.iloc[0] == "api.example.com" and bool(c0.hostname_matches.iloc[0])
    assert pd.isna(c0.hostname_matches.iloc[1])  # only the leaf is name-checked
    assert list(c0.san_dns.iloc[0]) == ["api.example.com", "*.apps.example.com"]
    assert c0.judged_at.iloc[0] == pd.Timestamp(T0)  # judged at the Certificate message's time
    c1 = df[df.conn_id == 1].iloc[0]
    assert c1.chain_verdict == "incomplete_chain"
    assert c1.missing_issuer == dn(pki.inter.subject)
    assert bool(c1.at_fault) and c1.hostname == "www.example.com"
    assert not bool(c1.issuer_in_chain) and not bool(c1.issuer_in_truststore)
    assert pd.isna(c1.signature_valid)  # no issuer at hand to check against


def test_found_in_truststore_by_fingerprint_and_time_from_table() -> None:
    pki = make_pki(leaf_kwargs={"not_after": T0 + timedelta(hours=1)})
    store = Truststore.from_certificates([pki.root, pki.inter])
    late = pd.Timestamp(T0 + timedelta(hours=2))
    df = compare_certificates(_table({(3, "client"): pki.chain}, late), store)
    assert list(df.in_truststore) == [False, True]
    assert df.truststore_match.iloc[1] == "fingerprint"
    assert list(df.validity.astype(str)) == ["expired", "valid"]
    assert set(df.chain_verdict.astype(str)) == {"expired"}
    assert df.hostname.isna().all()  # client chains are not name-checked
    # at= overrides the capture time.
    again = compare_certificates(_table({(3, "client"): pki.chain}, late), store, at=T0)
    assert set(again.chain_verdict.astype(str)) == {"trusted"}


def test_bare_chain_needs_at_and_accepts_pem() -> None:
    pki = make_pki()
    with pytest.raises(ValueError, match="at= is required"):
        compare_certificates(pki.chain, None)
    df = compare_certificates([pem(pki.leaf), pem(pki.inter)], None, at=T0, hostname="api.example.com")
    assert df.conn_id.isna().all() and list(df.position) == [0, 1]
    assert set(df.chain_verdict.astype(str)) == {"unverified"}


def test_unparseable_certificate_gets_a_row_saying_why() -> None:
    pki = make_pki()
    df = compare_certificates([der(pki.leaf), b"\x30\x00"], Truststore.from_certificates([pki.root]), at=T0)
    assert len(df) == 2
    assert pd.isna(df.parse_error.iloc[0]) and isinstance(df.parse_error.iloc[1], str)
    assert df.chain_verdict.iloc[0] == "incomplete_chain"


def test_empty_table_and_wrong_input() -> None:
    df = compare_certificates(conform([], CERTIFICATES), None)
    assert df.empty and list(df.columns) == CERT_COMPARISON.names
    with pytest.raises(TypeError, match="Capture"):
        compare_certificates("capture.pcap", None)
