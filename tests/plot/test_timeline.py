"""timeline(): all connections on one axis, from one to ten thousand."""

from __future__ import annotations

import frames as F
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import to_hex

from tlskit.plot import timeline
from tlskit.plot._common import CAUSE_COLORS
from tlskit.schema import CONNECTIONS, conform


def _five():
    t = F.T0
    cap = F.capture(F.tls12_ok(0, t), F.tls12_handshake_failure(1, t + pd.Timedelta("20ms")),
                    F.tls13_hrr_ok(2, t + pd.Timedelta("35ms")), F.tls12_unknown_ca(3, t + pd.Timedelta("50ms")),
                    F.tls13_encrypted_alert_after_gap(4, t + pd.Timedelta("70ms")))
    return cap, F.diagnosis(cap, {0: "ok", 1: "cipher_mismatch", 2: "ok", 3: "unknown_ca", 4: "unknown_ca"})


def _gid(ax, gid):
    return [a for a in [*ax.lines, *ax.patches, *ax.texts] if a.get_gid() == gid]


def _right_labels(ax):
    (right,) = ax.child_axes
    return right.get_yticklabels()


def test_one_row_per_connection_coloured_by_cause():
    cap, diag = _five()
    ax = timeline(cap, diagnosis=diag)
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "#0  api.example.com", "#1  api.example.com", "#2  api.example.com", "#3  legacy.example.net",
        "#4  api.example.com"]
    assert ax.get_title(loc="left") == "5 TLS connections, 3 not OK"
    # the handshake phases of row 3 are drawn in unknown_ca's colour, the TCP connect in grey
    row3 = [p for p in ax.patches if (p.get_gid() or "").startswith("phase:") and abs(p.get_y() + 0.275 - 3) < 1e-9]
    colours = {p.get_gid(): to_hex(p.get_facecolor()) for p in row3}
    assert colours["phase:ClientHello → ServerHello"] == CAUSE_COLORS["unknown_ca"]
    assert colours["phase:TCP connect"] == "#bdbdbd"


def test_failures_are_labelled_and_markers_counted():
    cap, diag = _five()
    ax = timeline(cap, diagnosis=diag)
    labels = [(t.get_text(), to_hex(t.get_color())) for t in _right_labels(ax)]
    assert labels[0][0] == "" and labels[2][0] == ""  # OK rows stay quiet
    assert labels[1] == ("no shared cipher suite (handshake_failure from server)", CAUSE_COLORS["cipher_mismatch"])
    assert labels[3][0] == "certificate from an untrusted CA (unknown_ca from client)"
    assert labels[4][0] == "certificate from an untrusted CA (encrypted alert from client)"
    assert len(_gid(ax, "alert")) == 2  # alerts in clear: conns 1 and 3
    assert len(_gid(ax, "complete")) == 2  # established: conns 0 and 2
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "unknown_ca (2)" in legend and "ok (2)" in legend


def test_phases_span_the_handshake_timestamps():
    cap, _ = _five()
    ax = timeline(cap)
    assert ax.get_xlabel() == "s since 2026-03-01 12:00:00.000 UTC"  # 30 s span -> seconds
    row0 = {p.get_gid(): (p.get_x(), p.get_width()) for p in ax.patches if abs(p.get_y() + 0.275) < 1e-9}
    x, w = row0["phase:ClientHello → ServerHello"]
    assert np.isclose(x, 0.001) and np.isclose(w, 0.002)


def test_without_diagnosis_only_proven_outcomes_are_named():
    cap, _ = _five()
    ax = timeline(cap)
    texts = [t.get_text() for t in _right_labels(ax)]
    assert texts[1] == "cause undetermined (handshake_failure from server)"
    assert texts[4] == "cause undetermined (encrypted alert from client)"


def _many(n: int, failed_every: int = 10) -> F.Capture:
    t = F.T0 + pd.to_timedelta(np.arange(n) * 50, unit="ms")
    ok = (np.arange(n) % failed_every) != 0
    conns = pd.DataFrame({
        "conn_id": np.arange(n), "start_time": t, "end_time": t + pd.Timedelta("40ms"),
        "tcp_syn_time": t, "client_hello_time": t + pd.Timedelta("1ms"),
        "server_hello_time": t + pd.Timedelta("3ms"), "handshake_end_time": pd.Series(t + pd.Timedelta("7ms")).where(ok),
        "established": ok, "sni": "api.example.com", "tcp_end": "fin",
    })
    return F.Capture(F.conform([], F.MESSAGES), conform(conns, CONNECTIONS), F.conform([], F.CERTIFICATES))


def test_ten_thousand_connections_are_aggregated_and_the_figure_says_so():
    cap = _many(10_000)
    ax = timeline(cap)
    (note,) = _gid(ax, "note")
    assert note.get_text().startswith("too many to draw one per row")
    heights = {}
    for p in ax.patches:
        heights[p.get_gid()] = heights.get(p.get_gid(), 0) + p.get_height()
    assert heights == {"cause:ok": 9_000, "cause:undetermined": 1_000}  # every connection counted once
    assert ax.get_title(loc="left") == "10,000 TLS connections, 1,000 not OK"


def test_sample_mode_keeps_failures_first_and_says_what_it_dropped():
    cap = _many(500, failed_every=50)  # 10 failed, 490 ok
    ax = timeline(cap, mode="sample", max_rows=40)
    assert len(ax.get_yticks()) == 40
    (note,) = _gid(ax, "note")
    assert note.get_text() == ("showing 40 of 500 connections: 10 of 10 not OK and 30 of 490 OK "
                               "(evenly spaced sample)")
    assert ax.get_title(loc="left") == "500 TLS connections, 10 not OK"


def test_a_single_connection_and_an_empty_capture():
    ax = timeline(F.capture(F.tls12_ok()))
    assert len(ax.get_yticks()) == 1 and not _gid(ax, "note")
    empty = F.Capture(F.conform([], F.MESSAGES), F.conform([], CONNECTIONS), F.conform([], F.CERTIFICATES))
    ax = timeline(empty)
    assert [t.get_text() for t in _gid(ax, "note")] == ["no TLS connections in this capture"]


def test_draws_into_a_given_axes():
    cap, diag = _five()
    _, ax = plt.subplots()
    assert timeline(cap, diagnosis=diag, ax=ax) is ax


def _four():
    t = F.T0
    cap = F.capture(F.tls12_ok(0, t), F.tls12_handshake_failure(1, t + pd.Timedelta("2s")),
                    F.tls13_hrr_ok(2, t + pd.Timedelta("4s")), F.tls12_unknown_ca(3, t + pd.Timedelta("6s")))
    return cap, F.diagnosis(cap, {0: "ok", 1: "cipher_mismatch", 2: "ok", 3: "unknown_ca"})


def test_failed_phase_is_hatched_from_last_step_to_the_alert():
    cap, diag = _four()
    ax = timeline(cap, diagnosis=diag, align="start")
    bars = [p for p in ax.patches if p.get_gid() == "phase:until failure"]
    # conn 1: ClientHello at 1 ms, server alert at 2 ms (row 1, x in ms from its own start)
    first = min(bars, key=lambda p: p.get_y())
    assert (round(first.get_x(), 6), round(first.get_width(), 6)) == (1.0, 1.0)
    assert first.get_hatch() == "////"
    assert len(bars) == 2  # every not-established connection


def test_align_start_uses_each_connections_own_clock_and_capture_align_warns_when_too_small():
    cap, diag = _four()
    ax = timeline(cap, diagnosis=diag, align="start")
    assert ax.get_xlabel() == "ms since each connection's first packet"
    assert not [t for t in ax.texts if t.get_gid() == "note"]
    ax = timeline(cap, diagnosis=diag)  # 6 s span, handshakes of a few ms
    (note,) = [t for t in ax.texts if t.get_gid() == "note"]
    assert "too short to show their phases" in note.get_text()
