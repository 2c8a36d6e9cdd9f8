"""latency() values and latency_plot() artists on hand-built handshakes."""

from __future__ import annotations

import frames as F
import pandas as pd
from matplotlib.colors import to_hex

from tlskit.plot import latency, latency_plot
from tlskit.plot._common import ALERT_RED

MS = pd.Timedelta("1ms")


def _cap():
    return F.capture(F.tls12_ok(0), F.tls12_handshake_failure(1), F.tls13_hrr_ok(2))


def test_phases_of_a_completed_handshake():
    lat = latency(_cap())
    assert list(lat.columns) == ["conn_id", "sni", "established", "tcp_connect", "hello", "server_flight",
                                 "client_finish", "first_app_data", "to_failure", "handshake", "total",
                                 "slowest"]
    ok = lat.iloc[0]
    assert ok["tcp_connect"] == 0.4 * MS
    assert ok["hello"] == 2 * MS  # ClientHello at 1 ms, ServerHello at 3 ms
    assert ok["server_flight"] == 0 * MS  # the whole flight arrived in one frame
    assert ok["client_finish"] == 4 * MS
    assert ok["first_app_data"] == 1 * MS
    assert ok["handshake"] == 6 * MS and ok["total"] == 8 * MS
    assert pd.isna(ok["to_failure"])
    assert ok["slowest"] == "client_finish"
    assert lat["tcp_connect"].dtype == "timedelta64[ns]"


def test_a_failed_handshake_ends_at_its_alert():
    failed = latency(_cap()).iloc[1]
    assert pd.isna(failed["hello"]) and pd.isna(failed["handshake"])
    assert failed["to_failure"] == 1 * MS  # ClientHello at 1 ms, server alert at 2 ms
    assert failed["total"] == 2 * MS
    assert failed["slowest"] == "to_failure"
    assert not failed["established"]


def test_hello_retry_request_and_inconsistent_timestamps_never_give_negative_phases():
    lat = latency(_cap())
    hrr = lat.iloc[2]
    assert hrr["hello"] == 1 * MS  # first ClientHello -> HelloRetryRequest
    cap = _cap()
    cap.connections.loc[2, "client_hello_time"] = cap.connections.loc[2, "server_hello_time"] + 2 * MS
    assert pd.isna(latency(cap).iloc[2]["hello"])


def test_latency_leaves_its_input_alone():
    cap = _cap()
    before = cap.connections.copy()
    latency(cap)
    assert cap.connections.equals(before)


def test_plot_marks_failures_and_totals():
    cap = _cap()
    diag = F.diagnosis(cap, {0: "ok", 1: "cipher_mismatch", 2: "ok"})
    ax = latency_plot(cap, diagnosis=diag)
    totals = [t.get_text() for t in ax.texts if t.get_gid() == "total"]
    assert totals == ["8.0 ms", "2.0 ms, no shared cipher suite", "6.5 ms"]
    (failed,) = [ln for ln in ax.lines if ln.get_gid() == "failed"]
    assert to_hex(failed.get_color()) == ALERT_RED and failed.get_xdata()[0] == 2.0
    # the failed row: TCP connect bar at 0 ms and the hatched failure bar from 1 to 2 ms
    fail_bar = [p for p in ax.patches if p.get_gid() == "latency:to_failure"]
    assert [(p.get_x(), p.get_width()) for p in fail_bar] == [(1.0, 1.0)]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "last step → failure (alert or close)" in legend


def test_plot_keeps_the_slowest_past_max_rows():
    conns = [F.tls12_ok(i, F.T0 + i * 100 * MS) for i in range(5)]
    conns[3].close(90, first_app_data_time=F.T0 + 300 * MS + 50 * MS)  # conn 3 waits 43 ms for data
    ax = latency_plot(F.capture(*conns), max_rows=2)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["#0  api.example.com", "#3  api.example.com"]
    (note,) = [t for t in ax.texts if t.get_gid() == "note"]
    assert note.get_text() == "the 2 slowest of 5 connections"
