"""diagnose() as a whole: schema, order, purity, languages, and the rule table's integrity."""

from __future__ import annotations

import json
import re
from importlib import resources

import pandas as pd
import pytest
from builders import capture, connection, hello_flight
from test_rules import case_cert_incomplete_java, case_sni_peer

import tlskit
from tlskit.diagnose import FLAGS, RULES, rules_table
from tlskit.diagnose.evidence import ITEMS
from tlskit.errors import TlskitError
from tlskit.schema import CAUSES, DIAGNOSIS, conform


def test_output_follows_the_schema_and_puts_failures_first() -> None:
    out = tlskit.diagnose(case_sni_peer())
    assert list(out.columns) == DIAGNOSIS.names
    pd.testing.assert_frame_equal(out, conform(out, DIAGNOSIS))
    assert list(out["conn_id"]) == [1, 0]  # the failure before the success, despite its id
    assert list(out["cause"].astype(str)) == ["sni_missing", "ok"]
    assert out.loc[1, "remediation"] is pd.NA or pd.isna(out.loc[1, "remediation"])


def test_capture_is_not_mutated() -> None:
    cap = case_cert_incomplete_java()
    before = [t.copy(deep=True) for t in (cap.connections, cap.messages, cap.certificates)]
    tlskit.diagnose(cap)
    for old, new in zip(before, (cap.connections, cap.messages, cap.certificates), strict=True):
        pd.testing.assert_frame_equal(old, new)


def test_japanese_texts() -> None:
    row = tlskit.diagnose(case_cert_incomplete_java(), lang="ja").iloc[0]
    assert row["summary"].startswith("サーバーの証明書チェーンが不完全です")
    assert "openssl verify -CAfile" in row["remediation"] and "キーストア" in row["remediation"]
    assert row["evidence"][0].startswith("フレーム 4: Client Hello")


def test_unknown_language_is_a_typed_error() -> None:
    with pytest.raises(TlskitError, match="lang='en' or lang='ja'"):
        tlskit.diagnose(case_sni_peer(), lang="fr")


def test_empty_capture_gives_an_empty_table() -> None:
    out = tlskit.diagnose(capture([]))
    assert out.empty and list(out.columns) == DIAGNOSIS.names


def test_roles_is_accepted() -> None:
    cap = capture([connection(0, established=True, version=0x0304, cipher_suite=0x1301)], hello_flight(0))
    row = tlskit.diagnose(cap, roles={str(cap.connections.loc[0, "server_ip"]): "backend"}).loc[0]
    assert row["cause"] == "ok" and row["hop"] == "outbound" and not row["hop_inferred"]


def test_rule_table_is_consistent() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    assert not (RULES[-1].all_of or RULES[-1].any_of or RULES[-1].none_of), "last rule must catch all"
    assert {r.cause for r in RULES} <= set(CAUSES)
    known = set(FLAGS)
    for r in RULES:
        for flag in (*r.all_of, *r.any_of, *r.none_of):
            assert flag in known or re.fullmatch(r"(client|server)_sent_[a-z_]+", flag), (r.id, flag)
        assert set(r.evidence) <= set(ITEMS), r.id
    table = rules_table()
    assert list(table["id"]) == ids


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_catalogues_cover_every_rule(lang: str) -> None:
    cat = json.loads(resources.files("tlskit.i18n").joinpath(f"{lang}.json").read_text(encoding="utf-8"))
    for r in RULES:
        assert f"summary.{r.id}" in cat, r.id
        assert not r.remedy or f"remediation.{r.remedy}" in cat, r.remedy


def test_catalogues_have_the_same_keys_and_fields() -> None:
    en, ja = (json.loads(resources.files("tlskit.i18n").joinpath(f"{x}.json").read_text(encoding="utf-8"))
              for x in ("en", "ja"))
    assert set(en) == set(ja)
    for key in en:
        assert set(re.findall(r"\{(\w+)\}", en[key])) == set(re.findall(r"\{(\w+)\}", ja[key])), key


def test_a_path_is_loaded(conformance) -> None:
    out = tlskit.diagnose(str(conformance / "zeek/traces/tls13draft16-ff52.a01-aborted.pcap"))
    assert list(out["rule"]) == ["protocol.server_alert"] * 2
