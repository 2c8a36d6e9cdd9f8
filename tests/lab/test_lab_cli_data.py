"""`tlskit lab` on the command line, and the committed data/ set."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

import tlskit
from tests.conftest import DATA
from tlskit import lab
from tlskit.cli import main


def test_cli_builds_one_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", str(tmp_path), "--scenario", "sni_missing_tls13"]) == 0
    answer = json.loads((tmp_path / "sni_missing_tls13" / "answer.json").read_text())
    assert answer["cause"] == "sni_missing" and answer["sni_sent"] is False
    assert "1 of 1 scenarios built" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sni_missing_tls13"]


def test_cli_list_and_bad_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lab", "--list"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == list(lab.SCENARIOS)
    assert main(["lab", str(tmp_path), "-s", "nope"]) == 2
    assert "unknown scenario(s): nope" in capsys.readouterr().err


SAMPLE = DATA / "sample"


@pytest.mark.skipif(not (SAMPLE / "capture.pcap").exists(), reason="data/ not built")
def test_sample_connections_match_answers() -> None:
    answers = json.loads((SAMPLE / "answers.json").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cap = tlskit.load(SAMPLE / "capture.pcap", keylog=SAMPLE / "keys.log")
    conns = cap.connections
    assert len(conns) == sum(a["connections"] for a in answers)
    for a in answers:
        row = conns[(conns.client_ip == a["client"]["ip"]) & (conns.client_port == a["client"]["port"])]
        assert len(row) == 1, a["scenario"]
        first = row.iloc[0]
        if a["alert"]:
            assert (first["alert_name"], first["alert_from"]) == (a["alert"]["name"], a["alert"]["from"])
        else:
            assert pd.isna(first["alert"])
    assert (SAMPLE / "truststore.pem").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


@pytest.mark.skipif(not (DATA / "README.md").exists(), reason="data/ not built")
def test_data_readme_lists_every_scenario_folder() -> None:
    readme = (DATA / "README.md").read_text(encoding="utf-8")
    folders = sorted(p.name for p in (DATA / "scenarios").iterdir())
    assert folders and all(f"| `{name}` |" in readme for name in folders)
    assert "scripts/rebuild_data.py" in readme
    for f in DATA.rglob("*"):
        assert f.name != "private" and not (f.is_file() and b"PRIVATE KEY" in f.read_bytes())
    total = sum(f.stat().st_size for f in DATA.rglob("*") if f.is_file())
    assert total < 700_000  # a few hundred KB, fit to commit
