"""TriageView on the bundled sample capture: failures listed first, selecting redraws."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

import tlskit
from tlskit.errors import TlskitError

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


@pytest.fixture(scope="module")
def view():
    from tlskit.widgets import TriageView

    cap = tlskit.load(SAMPLE / "capture.pcap", keylog=SAMPLE / "keys.log")
    seen: list[int] = []
    v = TriageView(cap, truststore=SAMPLE / "truststore.pem", on_change=seen.append)
    v.seen = seen
    return v


def test_failures_come_first_with_their_cause(view):
    labels = [label for label, _ in view.connection.options]
    causes = [label.rsplit(": ", 1)[1] for label in labels]
    first_ok = causes.index("ok")
    assert all(c != "ok" for c in causes[:first_ok]) and all(c == "ok" for c in causes[first_ok:])
    assert len(labels) == len(view.capture.connections)
    assert "unknown_ca" in causes and "hostname_mismatch" in causes


def test_selecting_another_connection_redraws_card_and_ladder(view):
    before_png, before_card = view.image.value, view.card.value
    assert before_png[:8] == b"\x89PNG\r\n\x1a\n"
    ok_id = next(cid for label, cid in view.connection.options if label.endswith(": ok"))
    view.value = ok_id
    assert view.value == ok_id and view.seen[-1] == ok_id
    assert view.image.value != before_png
    assert f"conn {ok_id}: handshake OK (ok)" in view.card.value
    assert view.card.value != before_card
    with pytest.raises(TlskitError, match="no connection with conn_id 999"):
        view.value = 999
