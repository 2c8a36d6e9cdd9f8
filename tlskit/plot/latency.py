"""Where the time of each handshake went, so a slow handshake is as visible as a failed one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import pandas as pd
from matplotlib.patches import Patch
from matplotlib.transforms import offset_copy

from tlskit.plot._common import (
    ALERT_RED,
    _na,
    alert_times_of,
    cause_label,
    causes,
    fmt_duration,
    tables,
    truncate,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# (column, start time, end time, colour): consecutive, so they add up along a connection.
LATENCY_PHASES = (
    ("tcp_connect", "tcp_syn_time", "tcp_synack_time", "#9e9e9e"),
    ("hello", "client_hello_time", "server_hello_time", "#42a5f5"),
    ("server_flight", "server_hello_time", "server_flight_end_time", "#1565c0"),
    ("client_finish", "server_flight_end_time", "handshake_end_time", "#7e57c2"),
    ("first_app_data", "handshake_end_time", "first_app_data_time", "#26a69a"),
)
PHASE_LABELS = {
    "tcp_connect": "TCP connect (SYN → SYN-ACK)",
    "hello": "ClientHello → ServerHello",
    "server_flight": "server flight",
    "client_finish": "client finish",
    "first_app_data": "→ first application data",
    "to_failure": "last step → failure (alert or close)",
}
FAILURE_COLOR = "#ef9a9a"


def latency(capture: Any) -> pd.DataFrame:
    """Per-connection latency breakdown of the handshake.

    Durations are measured between timestamps at the capture point: a capture taken next to
    the server shows a near-zero TCP connect, one next to the client a full round trip.

    Parameters
    ----------
    capture
        What :func:`tlskit.load` returns.

    Returns
    -------
    pandas.DataFrame
        One row per connection, in ``connections`` order, with columns:

        - ``conn_id`` (UInt32), ``sni`` (string), ``established`` (boolean)
        - ``tcp_connect``: SYN → SYN-ACK
        - ``hello``: ClientHello → ServerHello (or HelloRetryRequest)
        - ``server_flight``: ServerHello → last record of the server's first flight
        - ``client_finish``: end of the server flight → handshake completed
        - ``first_app_data``: handshake completed → first application data record
        - ``to_failure``: for a handshake that did not complete, the last phase reached →
          the fatal alert (else the connection's last packet); NaT otherwise
        - ``handshake``: ClientHello → handshake completed
        - ``total``: first packet → first application data (else the last phase seen)
        - ``slowest``: name of the longest phase (string, <NA> when none was measured)

        Phases are ``timedelta64[ns]``, NaT when a timestamp is missing (the handshake
        stopped before that phase, or the capture missed it).
    """
    _, connections = tables(capture)
    out = pd.DataFrame({
        "conn_id": connections["conn_id"].astype("UInt32"),
        "sni": connections["sni"].astype("string"),
        "established": connections["established"].astype("boolean"),
    })
    for name, begin, end, _ in LATENCY_PHASES:
        out[name] = _nonnegative(connections[end] - connections[begin])
    out["handshake"] = (connections["handshake_end_time"] - connections["client_hello_time"]).astype("timedelta64[ns]")
    reached = connections[["tcp_synack_time", "client_hello_time", "server_hello_time",
                           "server_flight_end_time", "handshake_end_time", "first_app_data_time"]].max(axis=1)
    alerts = alert_times_of(capture, connections)
    alert_time = pd.Series([alerts.get(int(c), pd.NaT) for c in connections["conn_id"]],
                           index=connections.index, dtype=connections["end_time"].dtype)
    failed = ~connections["established"].fillna(False).astype(bool)
    failure = alert_time.fillna(connections["end_time"]).where(failed)
    out["to_failure"] = _nonnegative(failure - reached)
    first = connections["tcp_syn_time"].fillna(connections["start_time"])
    out["total"] = (failure.fillna(reached) - first).astype("timedelta64[ns]")
    phases = out[[p[0] for p in LATENCY_PHASES] + ["to_failure"]]
    measured = phases.notna().any(axis=1)
    slowest = pd.Series(pd.NA, index=out.index, dtype="string")
    if measured.any():
        seconds = phases[measured].apply(lambda col: col.dt.total_seconds())
        slowest[measured] = seconds.idxmax(axis=1, skipna=True).astype("string")
    out["slowest"] = slowest
    order = ["conn_id", "sni", "established", *(p[0] for p in LATENCY_PHASES), "to_failure",
             "handshake", "total", "slowest"]
    return out[order].reset_index(drop=True)


def _nonnegative(delta: pd.Series) -> pd.Series:
    # A phase ending before it began means the two timestamps belong to different exchanges
    # (e.g. a second ClientHello after an HRR); that is no duration, so NaT rather than < 0.
    delta = delta.astype("timedelta64[ns]")
    return delta.where(~(delta < pd.Timedelta(0)))


def latency_plot(
    capture: Any,
    ax: Axes | None = None,
    *,
    diagnosis: pd.DataFrame | None = None,
    max_rows: int = 30,
) -> Axes:
    """Each connection's handshake phases as bars on a millisecond axis from its first packet.

    Connections whose handshake did not complete end with a red ✕. Past ``max_rows`` the
    slowest connections are drawn and the figure says so.

    Parameters
    ----------
    capture
        What :func:`tlskit.load` returns.
    ax
        Axes to draw into; a new figure when omitted.
    diagnosis
        A :func:`tlskit.diagnose` frame, to name the cause of failed handshakes.
    max_rows
        Most connections drawn.

    Returns
    -------
    matplotlib.axes.Axes
        Bars carry gid ``latency:<phase>``; failure markers ``failed``; the note ``note``.
    """
    _, connections = tables(capture)
    lat = latency(capture)
    cause = causes(connections, diagnosis).reset_index(drop=True)
    n = len(lat)
    shown = lat.index
    note = ""
    if n > max_rows:
        shown = lat["total"].dt.total_seconds().fillna(-1).sort_values(ascending=False, kind="stable").index[:max_rows]
        shown = pd.Index(sorted(shown))
        note = f"the {max_rows} slowest of {n:,} connections"

    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(10, 2.2 + 0.3 * max(len(shown), 3)), layout="constrained")

    labels = []
    widest = 0.0
    longest_text = 0
    for y, i in enumerate(shown):
        row, conn = lat.loc[i], connections.iloc[i]
        first = conn["tcp_syn_time"] if not _na(conn["tcp_syn_time"]) else conn["start_time"]
        # Each phase at its true offset from the first packet: pauses between phases stay visible.
        spans = [(name, conn[begin], color) for name, begin, _, color in LATENCY_PHASES]
        spans.append(("to_failure", conn[[c for _, _, c, _ in LATENCY_PHASES] + ["client_hello_time"]].max(), FAILURE_COLOR))
        for name, begin, color in spans:
            value = row[name]
            if _na(value) or _na(begin) or _na(first):
                continue
            left = (begin - first).total_seconds() * 1e3
            ax.barh(y, value.total_seconds() * 1e3, left=left, height=0.6, color=color,
                    edgecolor="white", linewidth=0.4, hatch="///" if name == "to_failure" else None,
                    gid=f"latency:{name}")
        end = 0.0 if _na(row["total"]) else row["total"].total_seconds() * 1e3
        widest = max(widest, end)
        ok = bool(row["established"]) if not _na(row["established"]) else False
        if not ok:
            ax.plot([end], [y], marker="X", ms=9, color=ALERT_RED, mec="white", ls="none", gid="failed")
        text = fmt_duration(end / 1e3) if ok else f"{fmt_duration(end / 1e3)}, {cause_label(str(cause.loc[i]))}"
        longest_text = max(longest_text, len(text))
        ax.annotate(text, (end, y), xytext=(7, 0), textcoords="offset points", va="center",
                    fontsize=8, color="#333333" if ok else ALERT_RED, gid="total")
        sni = "" if _na(row["sni"]) else f"  {truncate(str(row['sni']), 26)}"
        labels.append(f"#{int(row['conn_id'])}{sni}")

    ax.set_yticks(range(len(shown)), labels, fontsize=8)
    ax.set_ylim(len(shown) - 0.4, -0.6)
    # Room after the longest bar for its text (~4.6 pt per character at 8 pt; the axes take
    # about three quarters of the figure's width).
    axes_pt = 0.75 * cast("Figure", ax.figure).get_figwidth() * 72
    room = min(0.6, (4.6 * longest_text + 14) / axes_pt)
    ax.set_xlim(0, widest / (1 - room) if widest > 0 else 1)
    ax.tick_params(axis="y", length=0)
    ax.set_xlabel("milliseconds, at the capture point", fontsize=9)
    ax.grid(axis="x", color="#eeeeee")
    ax.set_axisbelow(True)
    ax.set_title("Handshake latency by phase", loc="left", fontsize=10.5, fontweight="bold",
                 pad=18 if note else None)
    if note:
        ax.annotate(note, xy=(0, 1), xycoords="axes fraction", xytext=(0, 4), textcoords="offset points",
                    ha="left", va="bottom", fontsize=8.5, color="#b71c1c", gid="note")
    phases = [(name, color) for name, _, _, color in LATENCY_PHASES] + [("to_failure", FAILURE_COLOR)]
    present = [(name, color) for name, color in phases if lat.loc[shown, name].notna().any()]
    if present:
        below = offset_copy(ax.transAxes, fig=cast("Figure", ax.figure), y=-30, units="points")
        ax.legend(handles=[Patch(facecolor=c, hatch="///" if p == "to_failure" else None,
                                 edgecolor="white", label=PHASE_LABELS[p]) for p, c in present],
                  loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=below, ncol=3,
                  fontsize=8, frameon=False)
    return ax
