"""`tlskit diagnose`: the table, --json keys, --lang, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import requires_tshark
from tlskit.cli import main

FAILURE = "zeek/traces/tls-1.2-handshake-failure.pcap"
REQUIRED = {"client", "client_port", "server", "server_port", "sni", "version", "cipher", "established",
            "alert", "alert_from", "cause", "confidence", "summary", "remediation", "evidence"}


def test_json_output(conformance: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(conformance / FAILURE), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, list) and len(data) == 1
    row = data[0]
    assert set(row) >= REQUIRED
    assert (row["cause"], row["alert"], row["alert_from"], row["established"]) == (
        "cipher_mismatch", "handshake_failure", "server", False)
    assert (row["client"], row["client_port"], row["server_port"], row["sni"]) == ("192.168.4.149", 53525, 443, None)
    assert row["evidence"][0].startswith("Frame 4: ClientHello")


def test_table_output_in_japanese(conformance: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose", str(conformance / FAILURE), "--lang", "ja"]) == 0
    out = capsys.readouterr().out
    header, row = out.splitlines()[:2]
    assert header.split()[:3] == ["#", "client", "->"]
    assert "cipher_mismatch" in row and "handshake_failure (server)" in row
    assert "クライアント側" in out  # the remediation, in Japanese


def test_truststore_and_hostname_options(lab_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sc = lab_dir / "unknown_ca_tls12"
    args = ["diagnose", str(sc / "capture.pcap"), "--truststore", str(sc / "truststore.jks"),
            "--truststore-password", "changeit", "--hostname", "api.backend.example", "--json"]
    assert main(args) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert row["cause"] == "unknown_ca"
    assert any("truststore.jks" in e for e in row["evidence"])


def test_unusable_input_exits_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("not a capture\n")
    assert main(["diagnose", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "notes.txt" in err


def test_server_config_option(lab_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sc = lab_dir / "sni_missing_tls12"
    assert main(["diagnose", str(sc / "capture.pcap"), "--server-config", str(sc / "nginx.conf"), "--json"]) == 0
    row = json.loads(capsys.readouterr().out)[0]
    assert (row["cause"], row["rule"], row["confidence"]) == ("sni_missing", "sni.config_required", 0.9)


@requires_tshark
def test_tshark_engine_gives_the_same_answer(conformance: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers = []
    for engine in ("native", "tshark"):
        assert main(["diagnose", str(conformance / FAILURE), "--json", "--engine", engine]) == 0
        answers.append([(r["cause"], r["alert"], r["rule"]) for r in json.loads(capsys.readouterr().out)])
    assert answers[0] == answers[1] == [("cipher_mismatch", "handshake_failure", "cipher.weak_offer")]


def test_workers_option_gives_the_same_answer(conformance: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers = []
    for workers in ("1", "2"):
        assert main(["diagnose", str(conformance / FAILURE), "--json", "--workers", workers]) == 0
        answers.append(json.loads(capsys.readouterr().out))
    assert answers[0] == answers[1] and answers[0][0]["cause"] == "cipher_mismatch"
    assert main(["diagnose", str(conformance / FAILURE), "--workers", "0"]) == 2
    assert "--workers takes a number of processes (1 or more), not '0'" in capsys.readouterr().err
