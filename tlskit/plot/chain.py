"""The chain picture: leaf → intermediates → root, where the truststore matched and where it broke."""

from __future__ import annotations

import re
import textwrap
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from tlskit.certs import ChainVerdict, Truststore, as_truststore, captured_chains, verify_chain
from tlskit.certs._hostname import presented_names
from tlskit.certs._store import dn, load_certificate, quiet_x509
from tlskit.errors import TlskitError
from tlskit.plot._common import ALERT_RED

if TYPE_CHECKING:
    from cryptography import x509
    from matplotlib.axes import Axes

SENT_FILL = "#e3f2fd"
SENT_EDGE = "#1565c0"
TRUST_FILL = "#e8f5e9"
TRUST_GREEN = "#2e7d32"
UNUSED_GREY = "#9e9e9e"
BOX_W, BOX_H, GAP = 3.0, 1.9, 1.1
WRAP = 24  # characters per line inside a box


@quiet_x509
def chain(
    source: Any,
    conn_id: int | None = None,
    *,
    side: str = "server",
    truststore: Truststore | str | Path | None = None,
    hostname: str | None = None,
    at: datetime | None = None,
    verdict: ChainVerdict | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw one certificate chain as boxes from the leaf (left) towards the root (right).

    Boxes follow the path a client builds: certificates as sent are blue, the truststore
    certificate the path ends at is green ("in truststore: alias"), the certificate the verdict
    blames has a red edge, and a break is red: a dashed "missing" box naming the issuer nobody
    supplied, a red arrow where a signature does not verify, or a red "not trusted" mark on an
    untrusted root. Certificates sent but not on the path are grey, below. The title is the
    verdict in ``openssl verify`` words.

    Parameters
    ----------
    source: a Capture, its ``certificates`` table, or one chain as a list of DER/PEM bytes.
    conn_id: the connection whose chain to draw (default: the first chain of ``source``).
    side: "server" or "client" chain.
    truststore, hostname, at: as for :func:`tlskit.certs.verify_chain` (defaults: the SNI and
        the Certificate message's capture time); the truststore may be a path.
    verdict: an already computed verdict for this chain (skips verifying again).
    ax: the Axes to draw on; a new figure when None.

    Returns
    -------
    matplotlib.axes.Axes
    """
    chains = [c for c in captured_chains(source, hostname=hostname, at=at)
              if (conn_id is None or c.conn_id == conn_id) and (c.side == side or c.conn_id is None)]
    if not chains:
        where = f"connection {conn_id} ({side} side)" if conn_id is not None else "this input"
        raise TlskitError(f"no certificate chain for {where}", fix="pick a conn_id from capture.certificates")
    ch = chains[0]
    if ch.at is None:
        raise TlskitError("no time to judge validity at", fix="pass at= (the capture time), never now()")
    v = verdict or verify_chain(list(ch.ders), truststore=as_truststore(truststore), hostname=ch.hostname, at=ch.at, side=ch.side)
    if ax is None:
        import matplotlib.pyplot as plt

        n = len(v.path) + (1 if v.missing_issuer and not v.anchor else 0)
        _, ax = plt.subplots(figsize=(max(5.0, 1.45 * n * (BOX_W + GAP) / 2), 3.6))
    certs: dict[int, x509.Certificate | None] = {}
    for i, d in enumerate(ch.ders):
        try:
            certs[i] = load_certificate(d)
        except ValueError:
            certs[i] = None

    x = 0.0
    boxes: list[tuple[float, str]] = []  # (left x, role) of each drawn path box
    path = list(v.path) or [0]
    for depth, pos in enumerate(path):
        cert = certs.get(pos) if pos is not None else (v.anchor.certificate if v.anchor else None)
        trusted = pos is None or (v.anchor is not None and depth == len(path) - 1)
        at_fault = (pos is not None and pos == v.fault_position) or (
            pos is None and v.problems and v.problems[0].position is None and v.problems[0].depth == depth
        )
        role = "leaf" if depth == 0 else "root" if cert is not None and _self_issued(cert) else "intermediate"
        lines = _box_lines(cert, role, pos, v, ch.at)
        _box(ax, x, lines, fill=TRUST_FILL if trusted else SENT_FILL,
             edge=ALERT_RED if at_fault else TRUST_GREEN if trusted else SENT_EDGE, lw=2.6 if at_fault else 1.2,
             gid=f"cert-{'trust' if pos is None else pos}")
        if trusted and v.anchor is not None:
            ax.text(x + BOX_W / 2, -0.25, f"in truststore: {v.anchor.alias}", ha="center", va="top",
                    color=TRUST_GREEN, fontsize=8, fontweight="bold")
        boxes.append((x, role))
        if depth > 0:
            broken = any(p.code == "bad_signature" and p.depth == depth - 1 for p in v.problems)
            _arrow(ax, x - GAP, x, "signature fails" if broken else "issued by", ALERT_RED if broken else "#455a64")
        x += BOX_W + GAP

    top_pos = path[-1]
    if (v.anchor is None and v.missing_issuer and not v.structural_only) or v.verdict == "incomplete_chain":
        _box(ax, x, ["missing issuer", *textwrap.wrap(_dn_cn(v.missing_issuer or "?"), WRAP)[:3],
                     "not sent" + ("" if v.structural_only else ", not in truststore")],
             fill="#ffebee", edge=ALERT_RED, lw=2.0, dashed=True, gid="missing")
        _arrow(ax, x - GAP, x, "issued by", ALERT_RED, dashed=True)
        x += BOX_W + GAP
    elif v.anchor is None and top_pos is not None and certs.get(top_pos) is not None and _self_issued(certs[top_pos]):  # type: ignore[arg-type]
        left = boxes[-1][0]
        label = "root must be in the client's truststore" if v.structural_only else "✗ not in truststore"
        ax.text(left + BOX_W / 2, -0.25, label, ha="center", va="top", fontsize=8, fontweight="bold",
                color="#616161" if v.structural_only else ALERT_RED, gid="untrusted-root")

    unused = [i for i in range(len(ch.ders)) if i not in path]
    for k, pos in enumerate(unused):
        cert = certs.get(pos)
        name = _cn(cert) if cert is not None else "(unparseable)"
        ux = k * (BOX_W * 0.8 + 0.3)
        ax.add_patch(FancyBboxPatch((ux, -1.55), BOX_W * 0.8, 0.8, boxstyle="round,pad=0.02,rounding_size=0.12",
                                    facecolor="#f5f5f5", edgecolor=UNUSED_GREY, lw=1.0, gid=f"unused-{pos}"))
        ax.text(ux + BOX_W * 0.4, -1.15, f"sent #{pos}, not on the path\n{textwrap.shorten(name, 28)}",
                ha="center", va="center", fontsize=7, color="#616161")

    ax.set_xlim(-0.2, max(x - GAP, BOX_W) + 0.2)
    ax.set_ylim(-1.75 if unused else -0.7, BOX_H + 0.25)
    ax.axis("off")
    colour = TRUST_GREEN if v.ok else "#616161" if v.verdict == "unverified" else ALERT_RED
    head = "trusted" if v.ok else v.verdict.replace("_", " ")
    where = f"conn {ch.conn_id} {ch.side} chain: " if ch.conn_id is not None else ""
    ax.set_title(f"{where}{head} — {v.openssl_message}" + (f"  (host: {v.hostname})" if v.hostname else ""),
                 color=colour, fontsize=10, loc="left")
    return ax


def _dn_cn(text: str) -> str:
    """The CN of a printed DN (the whole DN when it has none)."""
    m = re.search(r"(?:^|,)CN=((?:[^,\\]|\\.)+)", text)
    return m.group(1).replace("\\", "") if m else text


def _self_issued(cert: x509.Certificate) -> bool:
    return dn(cert.subject) == dn(cert.issuer)


def _cn(cert: x509.Certificate) -> str:
    _, _, cns = presented_names(cert)
    return cns[-1] if cns else dn(cert.subject) or "(no subject)"  # the most specific CN


def _box_lines(cert: x509.Certificate | None, role: str, pos: int | None, v: ChainVerdict, at: datetime) -> list[str]:
    where = "from truststore" if pos is None else f"sent #{pos}"
    if cert is None:
        return [f"{role} ({where})", "(cannot be parsed)"]
    lines = [f"{role} ({where})", *textwrap.wrap(_cn(cert), WRAP)[:2]]
    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    if at > na:
        lines.append(f"EXPIRED {na:%Y-%m-%d}")
    elif at < nb:
        lines.append(f"NOT YET VALID (from {nb:%Y-%m-%d})")
    else:
        lines.append(f"valid to {na:%Y-%m-%d}")
    if role == "leaf" and v.hostname:
        lines.append(f"host {v.hostname}: {'matches' if v.hostname_matches else 'NO MATCH'}")
    return lines


def _box(ax: Axes, x: float, lines: list[str], *, fill: str, edge: str, lw: float,
         dashed: bool = False, gid: str = "") -> None:
    ax.add_patch(FancyBboxPatch((x, 0.0), BOX_W, BOX_H, boxstyle="round,pad=0.02,rounding_size=0.15",
                                facecolor=fill, edgecolor=edge, lw=lw, linestyle="--" if dashed else "-", gid=gid))
    step = BOX_H / (len(lines) + 1)
    for i, line in enumerate(lines):
        bad = line.startswith(("EXPIRED", "NOT YET", "missing")) or line.endswith("NO MATCH")
        ax.text(x + BOX_W / 2, BOX_H - step * (i + 1), line, ha="center", va="center",
                fontsize=8 if i else 7.5, fontweight="bold" if i in (0, 1) or bad else "normal",
                color=ALERT_RED if bad else "#212121" if i else "#546e7a")


def _arrow(ax: Axes, x0: float, x1: float, label: str, color: str, *, dashed: bool = False) -> None:
    y = BOX_H / 2
    ax.add_patch(FancyArrowPatch((x0 + 0.05, y), (x1 - 0.05, y), arrowstyle="-|>", mutation_scale=12, color=color,
                                 lw=1.6, linestyle="--" if dashed else "-", gid=f"arrow-{label}"))
    ax.text((x0 + x1) / 2, y + 0.12, label, ha="center", va="bottom", fontsize=6.5, color=color)
