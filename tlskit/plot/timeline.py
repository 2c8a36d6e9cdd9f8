"""Every connection of a capture on one time axis, coloured by cause."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.transforms import offset_copy

from tlskit.plot._common import (
    ALERT_RED,
    CAUSE_COLORS,
    _na,
    _true,
    alert_times_of,
    cause_label,
    causes,
    tables,
    truncate,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

# Phases of a handshake, drawn as segments of one bar: (start column, end column, label, alpha).
PHASES = (
    ("tcp_syn_time", "client_hello_time", "TCP connect", None),
    ("client_hello_time", "server_hello_time", "ClientHello → ServerHello", 0.4),
    ("server_hello_time", "server_flight_end_time", "server flight", 0.7),
    ("server_flight_end_time", "handshake_end_time", "client finish", 1.0),
)
TCP_GREY = "#bdbdbd"


def timeline(
    capture: Any,
    *,
    diagnosis: pd.DataFrame | None = None,
    ax: Axes | None = None,
    max_rows: int = 40,
    mode: Literal["auto", "rows", "sample", "aggregate"] = "auto",
    align: Literal["capture", "start"] = "capture",
) -> Axes:
    """Draw every connection on one time axis, coloured by its cause.

    Up to ``max_rows`` connections get one row each: a thin line for the connection's life,
    a thick bar for the handshake split into its phases (TCP connect in grey; ClientHello →
    ServerHello, server flight and client finish in the cause's colour, lighter to darker), a
    red ✕ where a fatal alert was sent and a dot where the handshake completed; failures are
    named on the right. Past ``max_rows`` the default (``mode="auto"``) counts connection
    starts per time bin, stacked by cause; ``mode="sample"`` keeps rows but shows every failed
    connection first and an even sample of the rest. The figure says which it did.

    Parameters
    ----------
    capture
        What :func:`tlskit.load` returns.
    diagnosis
        A :func:`tlskit.diagnose` frame. Without it, connections are only told apart as
        ``ok`` (established), ``connection_reset`` (reset, no alert) and ``undetermined``.
    ax
        Axes to draw into; a new figure when omitted.
    max_rows
        Most connections drawn one per row.
    mode
        ``auto``, ``rows`` (one row each, whatever the count), ``sample`` or ``aggregate``.
    align
        ``capture``: one clock for all rows (when did what happen); ``start``: each row from
        its own first packet, so handshakes of connections spread over minutes can be compared
        phase by phase. With ``capture``, a note says when handshakes are too short to show
        their phases at the capture's scale.

    Returns
    -------
    matplotlib.axes.Axes
        Bars carry gid ``phase:<label>``, alert markers ``alert``, completion markers
        ``complete``; the note saying what was sampled or aggregated has gid ``note``.
    """
    _, connections = tables(capture)
    conns = connections.sort_values(["start_time", "conn_id"], kind="stable").reset_index(drop=True)
    cause = causes(conns, diagnosis)
    alert_times = alert_times_of(capture, conns)
    n = len(conns)
    if mode == "auto":
        mode = "rows" if n <= max_rows else "aggregate"

    if ax is None:
        import matplotlib.pyplot as plt

        rows = min(n, max_rows) if mode in ("rows", "sample") else 12
        rows = n if mode == "rows" else rows
        _, ax = plt.subplots(figsize=(11, 2.4 + 0.3 * max(rows, 3)), layout="constrained")

    if n == 0:
        ax.text(0.5, 0.5, "no TLS connections in this capture", ha="center", va="center",
                transform=ax.transAxes, gid="note")
        ax.set_axis_off()
        return ax
    origin = conns["start_time"].min()
    span = conns["end_time"].max() - origin
    if align == "start" and mode != "aggregate":
        span = (conns["end_time"] - conns["start_time"]).max()
    unit, scale = _unit(span)

    if mode == "aggregate":
        _aggregate(ax, conns, cause, origin, unit, scale)
        return ax
    keep = np.arange(n)
    note = ""
    if mode == "sample" and n > max_rows:
        keep, note = _sample(cause, max_rows)
    shown = conns.iloc[keep]
    origins = shown["start_time"] if align == "start" else pd.Series(origin, index=shown.index)
    _rows(ax, shown, cause.iloc[keep], alert_times, origins, scale)
    if align == "start":
        ax.set_xlabel(f"{unit} since each connection's first packet", fontsize=9)
    else:
        ax.set_xlabel(f"{unit} since {_stamp(origin)}", fontsize=9)
        handshakes = (shown["handshake_end_time"].fillna(shown["end_time"]) - shown["client_hello_time"]).median()
        if not _na(handshakes) and not _na(span) and span > pd.Timedelta(0) and handshakes < span * 0.02:
            note = note or ("handshakes are too short to show their phases at this scale: "
                            "timeline(..., align='start') or latency_plot() shows them")
    failed = int((cause != "ok").sum())
    ax.set_title(f"{n:,} TLS connection{'s' if n != 1 else ''}, {failed:,} not OK", loc="left",
                 fontsize=10.5, fontweight="bold")
    _legend(ax, cause)
    if note:
        _note(ax, note)
    return ax


def _note(ax: Axes, text: str) -> None:
    # Between the axes and the title (which is moved up to make room), in red so nobody reads
    # a sample or a histogram as the whole story.
    ax.annotate(text, xy=(0, 1), xycoords="axes fraction", xytext=(0, 4), textcoords="offset points",
                ha="left", va="bottom", fontsize=8.5, color="#b71c1c", gid="note")
    ax.set_title(ax.get_title(loc="left"), loc="left", fontsize=10.5, fontweight="bold", pad=18)


def _unit(span: pd.Timedelta) -> tuple[str, float]:
    seconds = span.total_seconds() if not _na(span) else 0.0
    for unit, scale, upto in (("ms", 1e3, 2), ("s", 1, 600), ("min", 1 / 60, 36_000)):
        if seconds < upto:
            return unit, scale
    return "h", 1 / 3600


def _x(t: Any, origin: pd.Timestamp, scale: float) -> float:
    return float((t - origin).total_seconds() * scale)


def _rows(ax: Axes, conns: pd.DataFrame, cause: pd.Series, alert_times: dict[int, pd.Timestamp],
          origins: pd.Series, scale: float) -> None:
    labels_left, labels_right, right_colors = [], [], []
    for y, ((_, c), why, origin) in enumerate(zip(conns.iterrows(), cause, origins, strict=True)):
        color = CAUSE_COLORS.get(str(why), CAUSE_COLORS["undetermined"])
        start = _x(c["start_time"], origin, scale)
        end = _x(c["end_time"], origin, scale) if not _na(c["end_time"]) else start
        ax.plot([start, end], [y, y], color=color, lw=1.2, alpha=0.6, solid_capstyle="butt",
                gid="life")
        for begin_col, end_col, label, alpha in PHASES:
            b, e = c[begin_col], c[end_col]
            if begin_col == "tcp_syn_time" and _na(b):
                continue
            if _na(b) or _na(e):
                continue
            x0, x1 = _x(b, origin, scale), _x(e, origin, scale)
            ax.barh(y, max(x1 - x0, 0.0), left=x0, height=0.55,
                    color=TCP_GREY if alpha is None else color, alpha=alpha or 1.0,
                    edgecolor="none", gid=f"phase:{label}")
        cid = int(c["conn_id"])
        if not _true(c["established"]):
            # The failed phase: from the last step reached to the alert (else the close), hatched.
            reached = c[["tcp_syn_time", "client_hello_time", "server_hello_time", "server_flight_end_time"]].dropna()
            failed_at = alert_times.get(cid, c["end_time"])
            if not reached.empty and not _na(failed_at) and failed_at > reached.max():
                x0, x1 = _x(reached.max(), origin, scale), _x(failed_at, origin, scale)
                ax.barh(y, x1 - x0, left=x0, height=0.55, color=color, alpha=0.35, hatch="////",
                        edgecolor=color, linewidth=0, gid="phase:until failure")
        if cid in alert_times:
            ax.plot([_x(alert_times[cid], origin, scale)], [y], marker="X", ms=9, color=ALERT_RED,
                    mec="white", mew=0.8, ls="none", gid="alert")
        if _true(c["established"]) and not _na(c["handshake_end_time"]):
            ax.plot([_x(c["handshake_end_time"], origin, scale)], [y], marker="o", ms=5.5,
                    color=color, mec="white", mew=0.8, ls="none", gid="complete")
        host = "" if _na(c["sni"]) else f"  {truncate(str(c['sni']), 28)}"
        labels_left.append(f"#{cid}{host}")
        labels_right.append(_outcome(c, str(why)))
        right_colors.append(color)

    n = len(conns)
    ax.set_ylim(n - 0.4, -0.6)
    ax.set_yticks(range(n), labels_left, fontsize=8)
    right = ax.secondary_yaxis("right")
    right.set_yticks(range(n), labels_right, fontsize=8)
    for text, color in zip(right.get_yticklabels(), right_colors, strict=True):
        text.set_color(color)
    right.tick_params(length=0)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color="#eeeeee")
    ax.set_axisbelow(True)
    ax.margins(x=0.03)


def _outcome(c: pd.Series, why: str) -> str:
    if why == "ok":
        return ""
    detail = ""
    if not _na(c["alert_name"]):
        detail = f" ({c['alert_name']} from {c['alert_from']})"
    elif not _na(c["encrypted_alert_from"]):
        detail = f" (encrypted alert from {c['encrypted_alert_from']})"
    elif c["tcp_end"] == "rst":
        detail = f" (RST from {c['tcp_end_by']})"
    return truncate(cause_label(why) + detail, 80)


def _legend(ax: Axes, cause: pd.Series) -> None:
    # Causes by their vocabulary names (the right-hand labels spell them out) to keep it narrow.
    counts = cause.value_counts()
    handles: list[Any] = [
        Patch(color=CAUSE_COLORS.get(str(k), CAUSE_COLORS["undetermined"]), label=f"{k} ({v:,})")
        for k, v in counts.items()
    ]
    handles += [
        Patch(color=TCP_GREY, label="TCP connect"),
        Patch(color="#424242", alpha=0.4, label="ClientHello→ServerHello"),
        Patch(color="#424242", alpha=0.7, label="server flight"),
        Patch(color="#424242", alpha=1.0, label="client finish"),
        Patch(facecolor="#424242", alpha=0.35, hatch="////", edgecolor="#424242", label="until failure"),
        Line2D([], [], marker="X", color=ALERT_RED, ls="none", label="fatal alert"),
        Line2D([], [], marker="o", color="#424242", ls="none", label="handshake complete"),
    ]
    # Anchored a fixed distance under the axes (below the x label) whatever the figure height.
    below = offset_copy(ax.transAxes, fig=cast("Figure", ax.figure), y=-30, units="points")
    widest = max(len(h.get_label()) for h in handles)
    width_pt = ax.get_position().width * cast("Figure", ax.figure).get_figwidth() * 72
    ncol = int(max(2, min(6, width_pt // (4.6 * widest + 30))))  # ~4.6 pt per character at 8 pt
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 0.0), bbox_transform=below,
              ncol=ncol, fontsize=8, frameon=False)


def _sample(cause: pd.Series, max_rows: int) -> tuple[np.ndarray, str]:
    """Not-OK connections first (four fifths of the rows at least), then evenly spaced OK ones."""
    bad = np.flatnonzero((cause != "ok").to_numpy())
    good = np.flatnonzero((cause == "ok").to_numpy())
    # A few OK rows stay for contrast (what a good handshake looks like next to the failures).
    room_bad = max_rows - min(len(good), max(max_rows // 5, 1))
    keep_bad = bad[np.linspace(0, len(bad) - 1, min(len(bad), room_bad)).astype(int)] if len(bad) else bad
    room = max_rows - len(keep_bad)
    keep_good = good[np.linspace(0, len(good) - 1, min(len(good), room)).astype(int)] if room > 0 and len(good) else good[:0]
    keep = np.sort(np.concatenate([keep_bad, keep_good]))
    note = (f"showing {len(keep):,} of {len(cause):,} connections: {len(keep_bad):,} of {len(bad):,} "
            f"not OK and {len(keep_good):,} of {len(good):,} OK (evenly spaced sample)")
    return keep, note


def _aggregate(ax: Axes, conns: pd.DataFrame, cause: pd.Series, origin: pd.Timestamp,
               unit: str, scale: float) -> None:
    starts = ((conns["start_time"] - origin).dt.total_seconds() * scale).to_numpy()
    bins = np.histogram_bin_edges(starts, bins=min(60, max(10, len(conns) // 50)))
    width = bins[1] - bins[0] if len(bins) > 1 else 1.0
    bottom = np.zeros(len(bins) - 1)
    order = [k for k in CAUSE_COLORS if (cause == k).any()]  # ok first, then causes in schema order
    for k in order:
        counts, _ = np.histogram(starts[(cause == k).to_numpy()], bins=bins)
        ax.bar(bins[:-1], counts, width=width, bottom=bottom, align="edge", color=CAUSE_COLORS[k],
               edgecolor="white", linewidth=0.3, label=f"{cause_label(k)} ({int((cause == k).sum()):,})",
               gid=f"cause:{k}")
        bottom += counts
    failed = int((cause != "ok").sum())
    ax.set_title(f"{len(conns):,} TLS connections, {failed:,} not OK", loc="left", fontsize=10.5,
                 fontweight="bold")
    _note(ax, f"too many to draw one per row: connection starts counted per {width:.3g} {unit} "
              f"bin, stacked by cause; ladder(capture, conn_id) draws one")
    ax.set_xlabel(f"{unit} since {_stamp(origin)}", fontsize=9)
    ax.set_ylabel("connections started", fontsize=9)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ax.grid(axis="y", color="#eeeeee")
    ax.set_axisbelow(True)


def _stamp(t: pd.Timestamp) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"
