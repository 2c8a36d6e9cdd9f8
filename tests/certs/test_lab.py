"""Golden: chain verdicts on the lab's captures (data/scenarios, real OpenSSL/Java stacks) agree
with each scenario's answer key, whatever format the truststore comes in."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

import tlskit
from tests.conftest import DATA
from tlskit.certs import compare_certificates, load_truststore

SCENARIOS = sorted(p for p in (DATA / "scenarios").glob("*") if (p / "answer.json").is_file())
STORES = [("truststore.pem", None), ("truststore.jks", "changeit"), ("truststore.p12", "changeit"),
          ("truststore-certinfo.json", None)]


def _expected(name: str, answer: dict) -> tuple[set[str] | None, set[str] | None]:
    """Acceptable (server chain, client chain) verdicts for a scenario; None: no such chain expected."""
    cause = answer["cause"]
    server: set[str] = {"trusted"}
    client: set[str] | None = {"trusted"}
    if cause == "expired_certificate":
        server = {"not_yet_valid"} if "not_yet_valid" in name else {"expired"}
    elif cause in ("hostname_mismatch", "incomplete_chain"):
        server = {cause}
    elif cause == "unknown_ca":
        server = {"self_signed"} if "self_signed" in name else {"unknown_ca"}
    elif cause == "sni_unrecognized":  # the server fell back to its default certificate, if any
        server = {"trusted", "hostname_mismatch"}
    elif cause == "client_certificate":
        client = {"expired"} if "expired" in name else {"unknown_ca", "incomplete_chain"} if "untrusted" in name else None
    return server, client


@pytest.mark.skipif(not SCENARIOS, reason="lab data not built (scripts/rebuild_data.py)")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_lab_chain_verdicts_match_answer_keys(scenario: Path) -> None:
    answer = json.loads((scenario / "answer.json").read_text())
    keylog = scenario / "keys.log"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tlskit.CaptureWarning)
        cap = tlskit.load(scenario / "capture.pcap", keylog=keylog if keylog.is_file() else None)
    if cap.certificates.empty:
        pytest.skip("no certificate visible in this scenario (handshake ended before one was sent)")
    server_ok, client_ok = _expected(scenario.name, answer)
    client_ca = load_truststore(scenario / "client-ca.pem") if (scenario / "client-ca.pem").is_file() else None
    judged = 0
    for fname, password in STORES:
        if not (scenario / fname).is_file():
            continue
        store = load_truststore(scenario / fname, password=password)
        df = compare_certificates(cap, store, hostname=answer.get("hostname"), client_truststore=client_ca)
        leaves = df[df.position == 0]
        for side, verdict, why in zip(leaves.side.astype(str), leaves.chain_verdict.astype(str),
                                      leaves.chain_explanation, strict=True):
            allowed = server_ok if side == "server" else client_ok
            if side == "client" and client_ca is None:
                continue  # no store of client CAs to judge the client chain with
            assert allowed is not None, f"{scenario.name}: unexpected {side} chain"
            assert verdict in allowed, f"{scenario.name} ({fname}, {side}): {verdict}: {why}"
            judged += 1
    assert judged >= 1
