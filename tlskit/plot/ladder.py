"""A ladder (sequence) diagram of one connection: who sent what, when, and where it ended."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
from matplotlib.patches import FancyArrowPatch

from tlskit.plot._common import (
    ALERT_RED,
    CAUSE_COLORS,
    CLIENT_BLUE,
    ENCRYPTED_GREY,
    SERVER_BROWN,
    WARNING_ORANGE,
    _na,
    _true,
    camel,
    cause_label,
    certificates,
    connection_row,
    diagnosis_by_conn,
    endpoint,
    fmt_duration,
    short_cipher,
    short_version,
    tables,
    truncate,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

CLIENT_X, SERVER_X = 0.0, 1.0
LABEL_CHARS = 70  # what fits between the lanes at the default width
HRR_ORANGE = "#e65100"
OK_GREEN = "#2e7d32"


@dataclass
class _Event:
    time: pd.Timestamp
    order: float  # tie-break for equal times: TCP open < TLS messages (by seq) < TCP close
    kind: str  # tcp, hello, hrr, handshake, ccs, encrypted, alert, warning_alert, close, marker
    direction: str | None  # c2s / s2c; None for a marker spanning both lanes
    label: str
    color: str
    dashed: bool = False
    bold: bool = False
    size: int = 0  # record bytes, for summaries of collapsed runs


def ladder(
    capture: Any,
    conn_id: int,
    *,
    diagnosis: pd.DataFrame | None = None,
    ax: Axes | None = None,
    gap: float = 1.0,
    collapse: int = 4,
) -> Axes:
    """Draw one connection as a ladder diagram: client lane left, server lane right.

    One row per event, in capture order, with its time since the connection's first packet on
    the left axis: TCP SYN / SYN-ACK, every TLS message of the ``messages`` table (label with
    the essentials: versions, SNI, suite count, selected suite, chain size), encrypted records
    dashed grey, the fatal alert in red with its description and sender, and the TCP FIN or
    RST that ended it. Pauses of ``gap`` seconds or more get a break marker saying how long.

    Parameters
    ----------
    capture
        What :func:`tlskit.load` returns (anything with ``messages`` and ``connections``
        tables, optionally ``certificates``).
    conn_id
        The connection to draw (``connections.conn_id``).
    diagnosis
        A :func:`tlskit.diagnose` frame; its cause and summary become the title.
    ax
        Axes to draw into; a new figure sized to the number of events when omitted.
    gap
        Seconds between consecutive events from which a time-axis break is drawn.
    collapse
        Runs of at least this many opaque encrypted records from one side are drawn as their
        first record and one "… N more" row (0: draw every record).

    Returns
    -------
    matplotlib.axes.Axes
        Arrows are ``FancyArrowPatch`` es in ``ax.patches`` with gid ``arrow:<kind>``; their
        labels are texts with gid ``label:<kind>``; breaks have gid ``gap``.
    """
    messages, connections = tables(capture)
    conn = connection_row(connections, conn_id)
    msgs = messages[messages["conn_id"] == conn_id].sort_values("seq", kind="stable")
    events = _collapse(_events(conn, msgs, certificates(capture)), collapse)
    rows = _layout(events, gap)

    if ax is None:
        import matplotlib.pyplot as plt

        height = 1.9 + 0.34 * max(len(rows), 3)
        _, ax = plt.subplots(figsize=(9.5, height), layout="constrained")

    start = _origin(conn, events)
    ticks, tick_labels = [], []
    for y, item in enumerate(rows):
        if isinstance(item, float):
            _draw_gap(ax, y, item)
            continue
        ticks.append(y)
        tick_labels.append("+" + fmt_duration((item.time - start).total_seconds()) if start is not None else "?")
        _draw_event(ax, y, item)

    n = len(rows)
    for x, color in ((CLIENT_X, CLIENT_BLUE), (SERVER_X, SERVER_BROWN)):
        ax.plot([x, x], [-0.6, n - 0.4], color=color, lw=2.5, solid_capstyle="butt", gid="lane")
    client = f"Client\n{endpoint(conn['client_ip'], conn['client_port'])}"
    server_name = "" if _na(conn["sni"]) else f"\n{truncate(str(conn['sni']), 34)}"
    server = f"Server\n{endpoint(conn['server_ip'], conn['server_port'])}{server_name}"
    ax.text(CLIENT_X, -0.75, client, ha="center", va="bottom", fontsize=9, fontweight="bold",
            color=CLIENT_BLUE, gid="lane-label:client")
    ax.text(SERVER_X, -0.75, server, ha="center", va="bottom", fontsize=9, fontweight="bold",
            color=SERVER_BROWN, gid="lane-label:server")

    ax.set_xlim(-0.22, 1.22)
    ax.set_ylim(n - 0.3, -2.3)  # time runs downward; headroom for the lane headers
    ax.set_yticks(ticks, tick_labels, fontsize=8)
    ax.set_xticks([])
    ax.tick_params(axis="y", length=0)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_color("#bbbbbb")
    ax.set_ylabel("time since first packet", fontsize=8, color="#555555")

    title, color, summary = _title(conn, diagnosis)
    ax.set_title(title, loc="left", fontsize=10.5, color=color, fontweight="bold")
    if summary:  # between the lane headers, under the title
        lines = textwrap.wrap(summary, 62)
        ax.text(0.5, -1.0, "\n".join(lines), ha="center", va="bottom", fontsize=8.5,
                color="#333333", gid="summary")
        ax.set_ylim(n - 0.3, -2.3 - 0.32 * max(len(lines) - 2, 0))
    ax.set_xlabel(_footnote(conn), fontsize=8, color="#555555", loc="left")
    return ax


def _events(conn: pd.Series, msgs: pd.DataFrame, certs: pd.DataFrame | None) -> list[_Event]:
    ev: list[_Event] = []
    if not _na(conn["tcp_syn_time"]):
        ev.append(_Event(conn["tcp_syn_time"], -2, "tcp", "c2s", "TCP SYN", "#9e9e9e"))
    if not _na(conn["tcp_synack_time"]):
        ev.append(_Event(conn["tcp_synack_time"], -1, "tcp", "s2c", "TCP SYN-ACK", "#9e9e9e"))

    hellos = 0
    alert_frame = None if _na(conn["alert_frame"]) else int(conn["alert_frame"])
    enc_alert_seq = _likely_encrypted_alert(conn, msgs)
    for _, m in msgs.iterrows():
        hellos += int(m["handshake_type"] == 1) if not _na(m["handshake_type"]) else 0
        ev.append(_message_event(conn, m, hellos, alert_frame, enc_alert_seq, certs))

    if _true(conn["established"]) and not _na(conn["handshake_end_time"]):
        details = [short_version(conn["version_name"])] if not _na(conn["version_name"]) else []
        details += ["resumed"] if _true(conn["resumed"]) else []
        text = "handshake complete" + (f" ({', '.join(details)})" if details else "")
        ev.append(_Event(conn["handshake_end_time"], 1e9, "marker", None, text, OK_GREEN))
    if not _na(conn["first_app_data_time"]):
        ev.append(_Event(conn["first_app_data_time"], 1e9 + 1, "marker", None,
                         "first application data", "#555555"))

    end, by = conn["tcp_end"], conn["tcp_end_by"]
    if end in ("fin", "rst") and not _na(conn["end_time"]):
        d = "c2s" if by == "client" else "s2c" if by == "server" else None
        who = f" from {by}" if not _na(by) else ""
        if end == "rst":
            ev.append(_Event(conn["end_time"], 2e9, "close", d, f"TCP RST{who}", ALERT_RED, bold=True))
        else:
            ev.append(_Event(conn["end_time"], 2e9, "close", d, f"TCP FIN{who}", "#757575"))
    elif end == "open" and not _na(conn["end_time"]):
        ev.append(_Event(conn["end_time"], 2e9, "marker", None,
                         "capture ends; connection still open", "#757575"))
    return sorted(ev, key=lambda e: (e.time, e.order))


def _likely_encrypted_alert(conn: pd.Series, msgs: pd.DataFrame) -> int | None:
    """The seq of the record that is probably an encrypted alert (TLS 1.3 without keys)."""
    side = conn["encrypted_alert_from"]
    if _na(side):
        return None
    d = "c2s" if side == "client" else "s2c"
    opaque = msgs[(msgs["direction"] == d) & msgs["encrypted"].fillna(False) & ~msgs["decrypted"].fillna(False)]
    return None if opaque.empty else int(opaque["seq"].iloc[-1])


def _message_event(conn: pd.Series, m: pd.Series, hellos: int, alert_frame: int | None,
                   enc_alert_seq: int | None, certs: pd.DataFrame | None) -> _Event:
    d = str(m["direction"])
    t, order = m["time"], float(m["seq"])
    ct = None if _na(m["content_type"]) else int(m["content_type"])
    encrypted, decrypted = _true(m["encrypted"]), _true(m["decrypted"])
    size = "" if _na(m["length"]) else f", {int(m['length']):,} B"
    sender = "client" if d == "c2s" else "server"

    if encrypted and not decrypted:
        if enc_alert_seq is not None and int(m["seq"]) == enc_alert_seq:
            return _Event(t, order, "alert", d,
                          f"encrypted record{size}: likely an alert from {sender} (no key log)",
                          ALERT_RED, dashed=True, bold=True)
        # Before completion an opaque record is handshake traffic (in TLS 1.2 the one encrypted
        # handshake message is Finished); after it, or typed 23 in TLS 1.2, it is application data.
        tls12 = not _na(conn["version"]) and int(conn["version"]) < 0x0304
        done = not _na(conn["handshake_end_time"]) and t > conn["handshake_end_time"]
        if done or (tls12 and ct == 23):
            what = "encrypted application data"
        else:
            what = "Finished (encrypted)" if ct == 22 and tls12 else "encrypted handshake record"
        return _Event(t, order, "encrypted", d, f"{what}{size}", ENCRYPTED_GREY, dashed=True,
                      size=0 if _na(m["length"]) else int(m["length"]))

    ev = _content_event(conn, m, hellos, alert_frame, certs)
    if decrypted:  # encrypted on the wire, read with the key log: dashed, in the content's colour
        ev.label, ev.dashed = ev.label + " (decrypted)", True
    return ev


def _content_event(conn: pd.Series, m: pd.Series, hellos: int, alert_frame: int | None,
                   certs: pd.DataFrame | None) -> _Event:
    """The event for a message whose content is known (cleartext or decrypted)."""
    d = str(m["direction"])
    t, order = m["time"], float(m["seq"])
    ct = None if _na(m["content_type"]) else int(m["content_type"])
    size = "" if _na(m["length"]) else f", {int(m['length']):,} B"
    sender = "client" if d == "c2s" else "server"
    if ct == 21:
        level = str(m["alert_level_name"]) if not _na(m["alert_level_name"]) else "?"
        desc = m["alert_description_name"]
        desc = "?" if _na(desc) else str(desc)
        code = "" if _na(m["alert_description"]) else f" ({int(m['alert_description'])})"
        fatal = level == "fatal" or (alert_frame is not None and int(m["frame"]) == alert_frame)
        if fatal:
            return _Event(t, order, "alert", d, f"FATAL ALERT from {sender}: {desc}{code}",
                          ALERT_RED, bold=True)
        color = "#757575" if desc == "close_notify" else WARNING_ORANGE
        return _Event(t, order, "warning_alert", d, f"Alert {level}: {desc}{code}", color)
    if ct == 20:
        return _Event(t, order, "ccs", d, "ChangeCipherSpec", "#9e9e9e")
    if ct == 23:
        return _Event(t, order, "encrypted", d, f"ApplicationData{size}", ENCRYPTED_GREY,
                      size=0 if _na(m["length"]) else int(m["length"]))

    hs = None if _na(m["handshake_type"]) else int(m["handshake_type"])
    name = m["handshake_type_name"]
    color = CLIENT_BLUE if d == "c2s" else SERVER_BROWN
    if hs == 1:
        label = ("ClientHello #2 " if hellos > 1 else "ClientHello ") + _client_hello(conn)
        return _Event(t, order, "hello", d, label, color, bold=True)
    if not _na(name) and str(name) == "hello_retry_request":
        return _Event(t, order, "hrr", d, "HelloRetryRequest (server asks for another key share)",
                      HRR_ORANGE, bold=True)
    if hs == 2:
        return _Event(t, order, "hello", d, f"ServerHello {_server_hello(conn)}", color, bold=True)
    if hs == 11:
        return _Event(t, order, "handshake", d, f"Certificate{_chain(conn, m, certs)}", color)
    if hs == 13:
        return _Event(t, order, "handshake", d, "CertificateRequest (asks for a client certificate)", color)
    return _Event(t, order, "handshake", d, camel(name), color)


def _client_hello(conn: pd.Series) -> str:
    parts = [short_version(_version_name(conn["client_max_version"]))]
    parts.append("no SNI" if _na(conn["sni"]) else f"SNI {truncate(str(conn['sni']), 30)}")
    n = len(conn["offered_ciphers"]) if isinstance(conn["offered_ciphers"], list) else 0
    parts.append(f"{n} suite{'s' if n != 1 else ''}")
    return ", ".join(parts)


def _version_name(code: Any) -> str | None:
    if _na(code):
        return None
    from tlskit.registry import version_name

    return version_name(int(code))


def _server_hello(conn: pd.Series) -> str:
    text = f"{short_version(conn['version_name'])} {short_cipher(conn['cipher_suite_name'], conn['cipher_suite'])}"
    return text + (" (resumed)" if _true(conn["resumed"]) else "")


def _chain(conn: pd.Series, m: pd.Series, certs: pd.DataFrame | None) -> str:
    side = "client" if str(m["direction"]) == "c2s" else "server"
    if certs is not None and not certs.empty:
        chain = certs[(certs["conn_id"] == conn["conn_id"]) & (certs["side"] == side)]
        chain = chain[chain["frame"] == m["frame"]] if (chain["frame"] == m["frame"]).any() else chain
        if not chain.empty:
            leaf = chain.sort_values("position").iloc[0]
            cn = "" if _na(leaf["subject_cn"]) else f", CN={truncate(str(leaf['subject_cn']), 28)}"
            return f": {len(chain)} cert{'s' if len(chain) != 1 else ''}{cn}"
    # An empty certificate_list is 3 bytes of length (TLS 1.2) or 4 with the context (TLS 1.3).
    if not _na(m["length"]) and int(m["length"]) <= 4:
        return " (empty: no certificate sent)"
    return ""


def _collapse(events: list[_Event], at_least: int) -> list[_Event]:
    """Keep long runs of one side's encrypted records readable: the first, then a summary row."""
    if at_least <= 1:
        return events
    out: list[_Event] = []
    run: list[_Event] = []

    def flush() -> None:
        if len(run) >= at_least:
            rest = run[1:]
            size = sum(e.size for e in rest)
            more = _Event(rest[-1].time, rest[-1].order, "encrypted", run[0].direction,
                          f"… {len(rest)} more encrypted records, {size:,} B", ENCRYPTED_GREY, dashed=True)
            out.extend([run[0], more])
        else:
            out.extend(run)
        run.clear()

    for ev in events:
        if ev.kind == "encrypted" and run and ev.direction == run[0].direction:
            run.append(ev)
            continue
        flush()
        (run if ev.kind == "encrypted" else out).append(ev)
    flush()
    return out


def _layout(events: list[_Event], gap: float) -> list[_Event | float]:
    """Rows in order, with the length (seconds) of each long pause inserted as its own row."""
    rows: list[_Event | float] = []
    for prev, ev in zip([None, *events[:-1]], events, strict=True):
        if prev is not None:
            pause = (ev.time - prev.time).total_seconds()
            if pause >= gap:
                rows.append(pause)
        rows.append(ev)
    return rows


def _origin(conn: pd.Series, events: list[_Event]) -> pd.Timestamp | None:
    if not _na(conn["start_time"]):
        return conn["start_time"]
    return events[0].time if events else None


def _draw_event(ax: Axes, y: int, ev: _Event) -> None:
    size = 9 if ev.bold else 8.5
    weight = "bold" if ev.bold else "normal"
    if ev.direction is None:  # a moment, not a message: a dotted line across both lanes
        ax.plot([CLIENT_X, SERVER_X], [y, y], color=ev.color, lw=1.2, ls=":", gid=f"arrow:{ev.kind}")
        ax.text(0.5, y - 0.12, ev.label, ha="center", va="bottom", fontsize=8.5, color=ev.color,
                fontstyle="italic", gid=f"label:{ev.kind}")
        return
    x0, x1 = (CLIENT_X, SERVER_X) if ev.direction == "c2s" else (SERVER_X, CLIENT_X)
    lw = 2.2 if ev.kind in ("alert", "close") and ev.color == ALERT_RED else 1.3
    arrow = FancyArrowPatch((x0, y), (x1, y), arrowstyle="-|>", mutation_scale=12, color=ev.color,
                            lw=lw, linestyle="--" if ev.dashed else "-", shrinkA=0, shrinkB=0,
                            gid=f"arrow:{ev.kind}")
    ax.add_patch(arrow)
    ax.text(0.5, y - 0.1, truncate(ev.label, LABEL_CHARS), ha="center", va="bottom", fontsize=size,
            fontweight=weight, color=ev.color, gid=f"label:{ev.kind}")


def _draw_gap(ax: Axes, y: int, seconds: float) -> None:
    # A break in the time axis: a zig-zag over both lanes and how long nothing happened.
    for x in (CLIENT_X, SERVER_X):
        ax.plot([x - 0.03, x + 0.03], [y - 0.12, y - 0.02], color="#424242", lw=1.2, gid="gap-mark")
        ax.plot([x - 0.03, x + 0.03], [y + 0.02, y + 0.12], color="#424242", lw=1.2, gid="gap-mark")
    ax.text(0.5, y, f"… {fmt_duration(seconds)} later …", ha="center", va="center", fontsize=8.5,
            color="#424242", fontstyle="italic", gid="gap",
            bbox={"boxstyle": "round,pad=0.25", "fc": "#f5f5f5", "ec": "#bdbdbd"})


def _title(conn: pd.Series, diagnosis: pd.DataFrame | None) -> tuple[str, str, str]:
    """Title, its colour, and the diagnosis summary (empty without a diagnosis)."""
    cid = int(conn["conn_id"])
    d = diagnosis_by_conn(diagnosis).get(cid)
    if d is not None and not _na(d["cause"]):
        cause = str(d["cause"])
        summary = "" if _na(d["summary"]) else str(d["summary"])
        return f"conn {cid}: {cause_label(cause)}", CAUSE_COLORS.get(cause, "#212121"), summary
    if _true(conn["established"]):
        return f"conn {cid}: handshake completed ({short_version(conn['version_name'])})", OK_GREEN, ""
    what = f"fatal alert {conn['alert_name']} from {conn['alert_from']}" if not _na(conn["alert"]) else "no fatal alert seen"
    return f"conn {cid}: handshake failed ({what}); tlskit.diagnose names the cause", ALERT_RED, ""


def _footnote(conn: pd.Series) -> str:
    notes = []
    if not _na(conn["retransmissions"]) and int(conn["retransmissions"]) > 0:
        n = int(conn["retransmissions"])
        notes.append(f"{n} TCP retransmission{'s' if n != 1 else ''} (drawn once)")
    if _true(conn["partial"]):
        notes.append("partial: the capture misses part of this connection")
    if _true(conn["decrypted"]):
        notes.append("decrypted with a key log")
    if not _na(conn["handshake_duration"]):
        notes.append(f"handshake {fmt_duration(conn['handshake_duration'].total_seconds())}")
    notes += [str(n) for n in (conn["notes"] if isinstance(conn["notes"], list) else [])][:2]
    return "; ".join(notes)
