"""`tlskit report` and the redaction it applies."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tlskit.report import Redactor
from tlskit.schema import CERTIFICATES, CONNECTIONS, DIAGNOSIS, MESSAGES, conform

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"


def test_redactor_is_consistent_and_keeps_wildcards_matching():
    r = Redactor(["10.0.0.5", "10.0.0.55", "fd00:20::c5"],
                 ["api.backend.example", "*.backend.example", "other.backend.example", "lone.test"])
    api, other = r.mapping["api.backend.example"], r.mapping["other.backend.example"]
    assert api != other and api.endswith(".domain-1.example") and other.endswith(".domain-1.example")
    assert r.mapping["*.backend.example"] == "*.domain-1.example"  # still covers both hosts
    text = "10.0.0.5 -> 10.0.0.55 (api.backend.example, API.backend.example.) via [fd00:20::c5]"
    out = r.text(text)
    assert out == (f"{r.mapping['10.0.0.5']} -> {r.mapping['10.0.0.55']} ({api}, {api}.) via "
                   f"[{r.mapping['fd00:20::c5']}]")
    assert r.mapping["10.0.0.5"].startswith("192.0.2.") and r.mapping["fd00:20::c5"].startswith("2001:db8::")
    # names the capture never showed but built on a known domain are hidden too
    assert r.text("use *.backend.example or www.backend.example") == "use *.domain-1.example or www.domain-1.example"
    assert r.text("10.0.0.555 and 110.0.0.5") == "10.0.0.555 and 110.0.0.5"  # not addresses we know


def test_redacting_a_capture_returns_new_tables():
    from tlskit.capture import Capture

    conns = conform([{"conn_id": 0, "client_ip": "10.0.0.5", "server_ip": "10.0.0.9", "sni": "api.backend.example",
                      "start_time": pd.Timestamp("2026-01-01", tz="UTC")}], CONNECTIONS)
    certs = conform([{"conn_id": 0, "side": "server", "position": 0, "subject": "CN=api.backend.example,O=Lab",
                      "subject_cn": "api.backend.example", "san_dns": ["api.backend.example"], "der": b"\x30"}],
                    CERTIFICATES)
    cap = Capture(Path("/x/api.backend.example.pcap"), conform([], MESSAGES), conns, certs)
    diag = conform([{"conn_id": 0, "cause": "ok", "summary": "api.backend.example at 10.0.0.9 is fine"}], DIAGNOSIS)
    r = Redactor.from_capture(cap)
    red, rdiag = r.capture(cap), r.diagnosis(diag)
    assert cap.connections.loc[0, "sni"] == "api.backend.example"  # the input is untouched
    assert red.connections.loc[0, "sni"] == r.mapping["api.backend.example"]
    assert red.connections.loc[0, "client_ip"] == r.mapping["10.0.0.5"]
    assert red.certificates.loc[0, "subject"] == f"CN={r.mapping['api.backend.example']},O=Lab"
    assert red.certificates.loc[0, "san_dns"] == [r.mapping["api.backend.example"]]
    assert red.certificates.loc[0, "der"] is None
    assert red.path.name == r.mapping["api.backend.example"] + ".pcap"
    assert rdiag.loc[0, "summary"] == f"{r.mapping['api.backend.example']} at {r.mapping['10.0.0.9']} is fine"
    assert str(rdiag["summary"].dtype) == "string"


def _secrets(keylog: Path) -> list[str]:
    return [line.split()[2] for line in keylog.read_text().splitlines() if len(line.split()) == 3]


@pytest.mark.slow
def test_redacted_report_is_self_contained_and_free_of_names_and_secrets(tmp_path):
    out = tmp_path / "report.html"
    done = subprocess.run(
        [sys.executable, "-m", "tlskit", "report", str(SAMPLE / "capture.pcap"), "--keylog", str(SAMPLE / "keys.log"),
         "--truststore", str(SAMPLE / "truststore.pem"), "--redact", "-o", str(out)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    body = out.read_text()
    for heading in ("Impact", "Timeline", "Root cause", "Evidence", "Fix and prevention"):
        assert f">{heading}<" in body
    assert body.count("data:image/png;base64,") >= 5  # timeline, latency, ladders: embedded
    assert not re.search(r'<script[^>]*src="https?://', body)  # nothing fetched when opened
    import tlskit

    cap = tlskit.load(SAMPLE / "capture.pcap", keylog=SAMPLE / "keys.log")
    for ip in set(cap.connections["client_ip"]) | set(cap.connections["server_ip"]):
        assert not re.search(rf"(?<![\d.]){re.escape(ip)}(?![\d.])", body), ip
    for host in set(cap.connections["sni"].dropna()):
        assert host not in body
    assert "domain-1.example" in body  # stand-ins, consistently
    secrets = _secrets(SAMPLE / "keys.log")
    assert secrets and not any(s in body.lower() for s in secrets)


def test_report_cli_names_a_missing_file(tmp_path):
    done = subprocess.run([sys.executable, "-m", "tlskit", "report", str(tmp_path / "nope.pcap"), "-o",
                           str(tmp_path / "r.html")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "nope.pcap: file not found" in done.stderr
    assert not (tmp_path / "r.html").exists()
