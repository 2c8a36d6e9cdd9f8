"""Figures on real public captures (Zeek's TLS traces in ../shared/conformance): every
connection draws, one arrow per message, whatever the stack, version or oddity of the trace."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import pandas as pd

import tlskit
from tlskit.plot import ladder, latency, timeline


def test_every_zeek_trace_draws(conformance):
    traces = sorted((conformance / "zeek" / "traces").iterdir())
    assert traces
    drawn = 0
    for trace in traces:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # partial traces warn; drawing them is the point
            cap = tlskit.load(trace)
        if cap.connections.empty:
            continue
        ax = timeline(cap)
        assert len(ax.get_yticks()) == len(cap.connections), trace.name
        lat = latency(cap)
        for col in ("tcp_connect", "hello", "server_flight", "client_finish", "first_app_data", "to_failure"):
            assert (lat[col].dropna() >= pd.Timedelta(0)).all(), (trace.name, col)
        for _, conn in cap.connections.iterrows():
            ax = ladder(cap, int(conn["conn_id"]), collapse=0)
            arrows = [p for p in ax.patches if (p.get_gid() or "").startswith("arrow:")]
            tcp = int(pd.notna(conn["tcp_syn_time"])) + int(pd.notna(conn["tcp_synack_time"]))
            tcp += int(conn["tcp_end"] in ("fin", "rst"))
            assert len(arrows) == int((cap.messages["conn_id"] == conn["conn_id"]).sum()) + tcp, trace.name
            drawn += 1
        plt.close("all")
    assert drawn >= 25
