"""Golden checks on the lab captures in data/ (real OpenSSL and Java handshakes): every
connection draws, and what is drawn agrees with the tables and the scenario's answer key."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.colors import to_hex

import tlskit
from tlskit.plot import ladder, latency, timeline
from tlskit.plot._common import ALERT_RED

DATA = Path(__file__).resolve().parents[2] / "data"  # tests/conftest.py's DATA
SCENARIOS = sorted(p.parent for p in (DATA / "scenarios").glob("*/answer.json"))


@pytest.fixture(scope="module")
def captures():
    if not SCENARIOS:
        pytest.skip("no lab captures in data/scenarios")
    out = {}
    for folder in SCENARIOS:
        keylog = folder / "keys.log"
        out[folder.name] = (tlskit.load(folder / "capture.pcap", keylog=keylog if keylog.exists() else None),
                            json.loads((folder / "answer.json").read_text()))
    return out


def test_every_lab_connection_draws_one_arrow_per_message(captures):
    import matplotlib.pyplot as plt

    for name, (cap, answer) in captures.items():
        for conn_id in cap.connections["conn_id"]:
            conn = cap.connections.set_index("conn_id").loc[conn_id]
            ax = ladder(cap, int(conn_id), collapse=0)
            arrows = [p for p in ax.patches if (p.get_gid() or "").startswith("arrow:")]
            tcp = int(pd.notna(conn["tcp_syn_time"])) + int(pd.notna(conn["tcp_synack_time"]))
            tcp += int(conn["tcp_end"] in ("fin", "rst"))
            expected = int((cap.messages["conn_id"] == conn_id).sum()) + tcp
            assert len(arrows) == expected, name
            alerts = [t for t in ax.texts if t.get_text().startswith("FATAL ALERT")]
            if pd.notna(conn["alert_name"]):
                assert any(conn["alert_name"] in t.get_text() and to_hex(t.get_color()) == ALERT_RED
                           for t in alerts), name
            if pd.notna(conn["hello_retry_request"]) and bool(conn["hello_retry_request"]):
                assert any(t.get_gid() == "label:hrr" for t in ax.texts), name
            plt.close("all")
        assert len(cap.connections) == answer["connections"], name


def test_lab_timeline_and_latency(captures):
    cap, answer = captures["cipher_mismatch_tls12"]
    ax = timeline(cap)
    assert len(ax.get_yticks()) == answer["connections"]
    lat = latency(cap)
    assert not lat["established"].any()
    assert (lat["total"].dropna() > lat["tcp_connect"].dropna()).all()
