"""Every lab scenario (real OpenSSL and Java stacks, tlskit.lab) gets the cause its answer key names.

Two settings per scenario: with what an investigator would have (the scenario's key log and the
client's truststore), where the answer must be exact; and bare (capture only), where TLS 1.3
hides the server's certificate, so a certificate judgment becomes `undetermined` with a pointer
to the key log, and everything else must still be exact.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import tlskit
from tests.conftest import DATA
from tlskit.capture import load
from tlskit.certs import load_truststore
from tlskit.errors import CaptureWarning

CERT_CAUSES = {"hostname_mismatch", "incomplete_chain", "unknown_ca", "expired_certificate"}


def _scenarios(lab: Path) -> list[Path]:
    return sorted(p for p in lab.iterdir() if (p / "answer.json").is_file() and (p / "capture.pcap").is_file())


def _rows(frame, answer: dict):  # the scenario's own connection(s)
    port = (answer.get("client") or {}).get("port")
    rows = frame[frame["client_port"] == port] if port is not None else frame
    return rows if not rows.empty else frame


def _hidden_certificate(answer: dict) -> bool:
    """TLS 1.3 without keys: the chain is encrypted; only certificate_expired names its cause."""
    alert = answer.get("alert") or {}
    return (answer.get("tls_version") == "TLSv1.3" and answer["cause"] in CERT_CAUSES
            and alert.get("name") != "certificate_expired")


def _load(path: Path, keylog: Path | None = None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CaptureWarning)
        return load(path, keylog=keylog)


@dataclass
class Scenario:
    name: str
    dir: Path
    answer: dict[str, Any]
    bare: Any  # the capture alone
    keyed: Any  # with the scenario's key log (same as bare when none was written)


@pytest.fixture(scope="module")
def scenarios(lab_dir: Path) -> list[Scenario]:
    """Each lab capture loaded once, with and without its key log."""
    out = []
    for d in _scenarios(lab_dir):
        keylog = d / "keys.log"
        bare = _load(d / "capture.pcap")
        keyed = _load(d / "capture.pcap", keylog) if keylog.is_file() else bare
        out.append(Scenario(d.name, d, json.loads((d / "answer.json").read_text()), bare, keyed))
    return out


def test_lab_with_keys_and_truststore(scenarios: list[Scenario]) -> None:
    wrong = []
    for sc in scenarios:
        pem = sc.dir / "truststore.pem"
        store = load_truststore(pem) if pem.is_file() else None
        out = _rows(tlskit.diagnose(sc.keyed, truststore=store), sc.answer)
        got = sorted(set(out["cause"].astype(str)))
        if got != [sc.answer["cause"]]:
            wrong.append((sc.name, sc.answer["cause"], got, list(out["rule"])))
        elif sc.answer.get("fault") and set(out["fault"].astype(str)) != {sc.answer["fault"]}:
            wrong.append((sc.name, "fault", sc.answer["fault"], list(out["fault"].astype(str))))
    assert not wrong, wrong
    assert len(scenarios) >= 30
    assert {"java_unknown_ca_tls13", "java_sni_missing_tls12"} <= {sc.name for sc in scenarios} or not _has_java()


def test_lab_capture_only(scenarios: list[Scenario]) -> None:
    wrong = []
    for sc in scenarios:
        out = _rows(tlskit.diagnose(sc.bare), sc.answer)
        expected = "undetermined" if _hidden_certificate(sc.answer) else sc.answer["cause"]
        got = sorted(set(out["cause"].astype(str)))
        if got != [expected]:
            wrong.append((sc.name, expected, got, list(out["rule"])))
        elif expected == "undetermined":
            assert any("--keylog" in e for e in out.iloc[0]["evidence"]), sc.name
    assert not wrong, wrong


def test_lab_alert_and_sender_match_the_answer(scenarios: list[Scenario]) -> None:
    for sc in scenarios:
        alert = sc.answer.get("alert") or {}
        if not alert or alert.get("encrypted") or alert.get("level") != "fatal":
            continue
        row = _rows(tlskit.diagnose(sc.keyed), sc.answer).iloc[0]
        assert (row["alert"], row["alert_from"]) == (alert["name"], alert["from"]), sc.name


def test_lab_with_the_server_configuration(scenarios: list[Scenario]) -> None:
    """The nginx.conf each scenario's server ran: the cause stays right, and config rules explain it."""
    wrong, quoted = [], 0
    for sc in scenarios:
        conf = sc.dir / "nginx.conf"
        if not conf.is_file():
            continue
        out = _rows(tlskit.diagnose(sc.bare, server_config=conf), sc.answer)
        expected = "undetermined" if _hidden_certificate(sc.answer) else sc.answer["cause"]
        if sorted(set(out["cause"].astype(str))) != [expected]:
            wrong.append((sc.name, expected, list(zip(out["cause"].astype(str), out["rule"], strict=True))))
        quoted += any("nginx.conf" in str(e) for e in out.iloc[0]["evidence"])
    assert not wrong, wrong
    assert quoted >= 3  # cipher, SNI and protocol cases quote the configuration


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_lab_sni_missing_in_both_languages(scenarios: list[Scenario], lang: str) -> None:
    sc = next(s for s in scenarios if s.name == "sni_missing_tls12")
    row = tlskit.diagnose(sc.bare, lang=lang).iloc[0]
    assert row["cause"] == "sni_missing"
    assert "jsse.enableSNIExtension=true" in row["remediation"]


def _has_java() -> bool:
    import shutil

    return shutil.which("java") is not None


def test_committed_sample_capture() -> None:
    """data/sample: twelve lab scenarios merged into one capture, diagnosed together."""
    sample = DATA / "sample"
    if not (sample / "capture.pcap").is_file():
        pytest.skip("data/sample not built (scripts/rebuild_data.py)")
    answers = json.loads((sample / "answers.json").read_text())
    cap = _load(sample / "capture.pcap", sample / "keys.log")
    out = tlskit.diagnose(cap, truststore=sample / "truststore.pem")
    cause_by_port = dict(zip(out["client_port"].astype(int), out["cause"].astype(str), strict=True))
    expected = {port: a["cause"] for a in answers for port in a.get("client_ports") or [a["client"]["port"]]}
    assert {p: cause_by_port.get(p) for p in expected} == expected
    failed = out["cause"].astype(str) != "ok"
    assert failed.iloc[: failed.sum()].all()  # failures first


def test_truststore_by_path_and_password(scenarios: list[Scenario]) -> None:
    sc = next(s for s in scenarios if s.name == "unknown_ca_tls12")
    row = tlskit.diagnose(sc.keyed, truststore=sc.dir / "truststore.p12", truststore_password="changeit").iloc[0]
    assert (row["cause"], row["rule"]) == ("unknown_ca", "cert.untrusted_issuer")
    assert any("truststore.p12" in e for e in row["evidence"])
