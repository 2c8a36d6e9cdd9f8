"""compare_connections / group_connections on hand-built tables (schema-conformant)."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from tlskit import schema
from tlskit.incident import compare_connections, group_connections

T0 = pd.Timestamp("2026-01-05 10:00:00", tz="UTC")


def _conn(conn_id: int, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "conn_id": conn_id, "client_ip": "10.0.0.1", "client_port": 40000 + conn_id, "server_ip": "10.0.0.2",
        "server_port": 443, "start_time": T0, "sni": "api.example.com", "client_legacy_version": 0x0303,
        "client_versions": [0x0304, 0x0303], "offered_ciphers": [0x1301, 0xC02F], "version": 0x0304,
        "cipher_suite": 0x1301, "established": True, "ja4": "t13d0202h2_aaa_bbb", "tcp_end": "fin",
        "tcp_end_by": "client", "handshake_duration": pd.Timedelta(milliseconds=12),
    }
    base.update(kw)
    return base


def _capture(*rows: dict[str, object], certs: list[dict[str, object]] | None = None) -> SimpleNamespace:
    return SimpleNamespace(connections=schema.conform(list(rows), schema.CONNECTIONS),
                           certificates=schema.conform(certs or [], schema.CERTIFICATES))


def test_failing_old_client_vs_working_one() -> None:
    cap = _capture(
        _conn(0),
        _conn(1, client_versions=[], client_legacy_version=0x0301, offered_ciphers=[0x002F], version=None,
              cipher_suite=None, established=False, alert=70, alert_name="protocol_version", alert_from="server",
              ja4="t10d0101h2_ccc_ddd", handshake_duration=None),
    )
    diff = compare_connections(cap, cap, a_conn=0, b_conn=1)
    assert diff["differs"].all()
    assert list(diff["aspect"][:3]) == ["outcome", "offered versions", "selected version"]
    first = diff.iloc[0]
    assert first["a"] == "established" and first["b"] == "failed: protocol_version from server"
    versions = diff.set_index("aspect").loc["offered versions"]
    assert versions["a"] == "TLSv1.3, TLSv1.2" and versions["b"] == "TLSv1.0"
    assert "SNI" not in set(diff["aspect"])  # equal aspects are left out by default


def test_all_aspects_lists_equal_ones_after_differences() -> None:
    cap = _capture(_conn(0), _conn(1, sni=None))
    diff = compare_connections(cap, cap, a_conn=0, b_conn=1, all_aspects=True)
    assert diff.iloc[0]["aspect"] == "SNI" and diff.iloc[0]["b"] == "—"
    assert not diff.iloc[1:]["differs"].any()


def test_certificate_differences() -> None:
    certs = [
        {"conn_id": 0, "side": "server", "position": 0, "subject": "CN=api.example.com", "subject_cn": "api.example.com",
         "sha256": "aa" * 32, "not_after": T0 + pd.Timedelta(days=90), "key_type": "RSA", "key_size": 2048},
        {"conn_id": 1, "side": "server", "position": 0, "subject": "CN=old.example.com", "subject_cn": "old.example.com",
         "sha256": "bb" * 32, "not_after": T0 - pd.Timedelta(days=2), "key_type": "RSA", "key_size": 1024},
    ]
    cap = _capture(_conn(0), _conn(1), certs=certs)
    diff = compare_connections(cap, cap, a_conn=0, b_conn=1).set_index("aspect")
    assert diff.loc["server certificate valid until", "b"] == "2026-01-03 10:00 UTC"
    assert diff.loc["server key", "a"] == "RSA 2048" and diff.loc["server key", "b"] == "RSA 1024"
    assert diff.loc["server certificate chain", "b"].startswith("old.example.com (SHA-256 bbbbbbbbbbbb")


def test_needs_conn_id_when_ambiguous() -> None:
    cap = _capture(_conn(0), _conn(1))
    with pytest.raises(ValueError, match="2 connections"):
        compare_connections(cap, cap)
    with pytest.raises(ValueError, match="no connection 7"):
        compare_connections(cap, cap, a_conn=7, b_conn=0)


def test_group_by_fingerprint_names_the_failing_client() -> None:
    cap = _capture(
        _conn(0), _conn(1),
        _conn(2, ja4="t12d0101h1_old_old", established=False),
        _conn(3, ja4="t12d0101h1_old_old", established=False),
    )
    groups = group_connections(cap)
    assert list(groups["fingerprint"]) == ["t12d0101h1_old_old", "t13d0202h2_aaa_bbb"]
    assert groups.iloc[0]["failed"] == 2 and groups.iloc[0]["ok"] == 0
    assert groups.iloc[0]["finding"] == "all 2 connections from ja4 t12d0101h1_old_old fail"
    assert groups.iloc[1]["finding"] == "all 2 connections from ja4 t13d0202h2_aaa_bbb succeed"


def test_group_uses_diagnosis_causes() -> None:
    cap = _capture(_conn(0), _conn(1, established=False))
    diagnosis = pd.DataFrame({"conn_id": [0, 1], "cause": ["ok", "sni_missing"]})
    groups = group_connections(cap, diagnosis=diagnosis)
    assert groups.iloc[0]["outcomes"] == {"ok": 1, "sni_missing": 1}
    assert groups.iloc[0]["finding"] == ""  # one fingerprint: nothing to contrast
