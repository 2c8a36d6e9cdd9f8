"""`tlskit certs` on a chain file and on a lab capture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.certs.pki import T0, make_pki, pem
from tests.conftest import DATA
from tlskit.cli import main


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    pki = make_pki()
    (tmp_path / "chain.pem").write_bytes(pem(pki.leaf))  # leaf only: the intermediate is missing
    (tmp_path / "roots.pem").write_bytes(pem(pki.root))
    return {"chain": tmp_path / "chain.pem", "roots": tmp_path / "roots.pem"}


def test_chain_file_text_output(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["certs", str(files["chain"]), "-t", str(files["roots"]), "--at", T0.isoformat()])
    out = capsys.readouterr().out
    assert rc == 0
    assert "server chain: incomplete_chain" in out
    assert "error 20 at 0 depth lookup: unable to get local issuer certificate" in out
    assert "Fix: Configure the server to send the intermediate" in out
    assert "!#0 O=tlskit test,CN=api.example.com" in out


def test_chain_file_json_and_missing_time(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["certs", str(files["chain"]), "-t", str(files["roots"]), "--at", T0.isoformat(),
               "--host", "www.example.com", "--json"])
    rows = json.loads(capsys.readouterr().out)
    assert rc == 0 and len(rows) == 1
    assert rows[0]["chain_verdict"] == "incomplete_chain" and rows[0]["hostname_matches"] is False
    assert main(["certs", str(files["chain"])]) == 2  # no --at: a clear error, not "now"
    assert "--at" in capsys.readouterr().err


@pytest.mark.skipif(not (DATA / "scenarios" / "expired_tls12").is_dir(), reason="lab data not built")
def test_lab_capture(capsys: pytest.CaptureFixture[str]) -> None:
    d = DATA / "scenarios" / "expired_tls12"
    rc = main(["certs", str(d / "capture.pcap"), "-t", str(d / "truststore.p12"), "-p", "changeit"])
    out = capsys.readouterr().out
    assert rc == 0 and "conn 0 server chain for api.backend.example: expired" in out
    assert "certificate has expired" in out
    assert main(["certs", str(d / "capture.pcap"), "-t", str(d / "truststore.p12"), "-p", "wrong"]) == 2
    assert "wrong keystore password" in capsys.readouterr().err
