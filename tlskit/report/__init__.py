"""Shareable postmortems: the sections of the postmortem notebook, and ``tlskit report``.

The postmortem template (``postmortem.ipynb`` next to this file; ``notebooks/05_postmortem.ipynb``
links to it) calls the functions below for its sections; :func:`render_report` runs it with
papermill and writes one self-contained HTML file (figures embedded, code hidden).

    >>> from tlskit.report import render_report
    >>> render_report("incident.pcap", keylog="keys.log", redact=True, out="report.html")
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from tlskit.errors import TlskitError
from tlskit.report._redact import Redactor

TEMPLATE = Path(__file__).with_name("postmortem.ipynb")

# What keeps each cause from coming back: one line per cause, for the "prevention" section.
PREVENTION: dict[str, str] = {
    "protocol_mismatch": "Keep a shared, versioned TLS policy (minimum version) for clients and servers, and test a handshake with each client stack after a policy change.",
    "cipher_mismatch": "Keep cipher lists of clients and servers in one reviewed policy; run tlskit.compare_ciphers against the server config in CI.",
    "hostname_mismatch": "Issue certificates with every host name clients use in subjectAltName; check names when a route or DNS alias changes.",
    "incomplete_chain": "Deploy the full chain (leaf + intermediates) and verify it with `openssl s_client -showcerts` after every renewal.",
    "unknown_ca": "Distribute the issuing CA to every client truststore before switching certificates; inventory truststores per client.",
    "expired_certificate": "Monitor certificate expiry (alert 30 days ahead) and automate renewal.",
    "sni_missing": "Make sure every client sends SNI (Java: jsse.enableSNIExtension, HTTP clients with an IP target); test without SNI in staging.",
    "sni_unrecognized": "Register every virtual host name the clients use on the server (Apigee virtual host aliases); test unknown names in staging.",
    "client_certificate": "Track client certificates (expiry, issuer) and the CA list the server accepts; test mutual TLS after each rotation.",
    "connection_reset": "Check middleboxes (firewalls, load balancers, proxies) on the path; capture on both sides to see who sent the RST.",
    "undetermined": "Capture again with a key log (SSLKEYLOGFILE) and on both sides so the failure can be read.",
}


def impact(capture: Any, diagnosis: pd.DataFrame) -> pd.DataFrame:
    """How many connections failed, when, between whom.

    Returns
    -------
    pandas.DataFrame
        One row per cause (failures first): ``cause``, ``connections`` (int), ``clients``
        (distinct client addresses), ``servers`` (distinct ``server:port``), ``first`` and
        ``last`` (UTC times of the first and last such connection).
    """
    conns = capture.connections.set_index("conn_id")
    rows = []
    for cause, group in diagnosis.groupby(diagnosis["cause"].astype(str), sort=False):
        ids = group["conn_id"].astype(int).tolist()
        c = conns.loc[ids]
        rows.append({
            "cause": cause,
            "connections": len(ids),
            "clients": int(c["client_ip"].nunique()),
            "servers": int((c["server_ip"].astype(str) + ":" + c["server_port"].astype(str)).nunique()),
            "first": c["start_time"].min(),
            "last": c["start_time"].max(),
        })
    out = pd.DataFrame(rows, columns=["cause", "connections", "clients", "servers", "first", "last"])
    return out.sort_values(["cause"], key=lambda s: s == "ok", kind="stable").reset_index(drop=True)


def root_causes(diagnosis: pd.DataFrame) -> pd.DataFrame:
    """The distinct failure causes with the side to change and what to change.

    Returns
    -------
    pandas.DataFrame
        One row per cause other than ``ok``: ``cause``, ``connections``, ``fault`` (side),
        ``summary`` (of the first such connection), ``remediation``, ``prevention``.
    """
    failed = diagnosis[diagnosis["cause"].astype(str) != "ok"]
    rows = []
    for cause, group in failed.groupby(failed["cause"].astype(str), sort=False):
        first = group.iloc[0]
        rows.append({
            "cause": cause,
            "connections": len(group),
            "fault": None if pd.isna(first["fault"]) else str(first["fault"]),
            "summary": str(first["summary"]),
            "remediation": str(first["remediation"]),
            "prevention": PREVENTION.get(cause, ""),
        })
    return pd.DataFrame(rows, columns=["cause", "connections", "fault", "summary", "remediation", "prevention"])


def evidence_html(diagnosis: pd.DataFrame, conn_id: int) -> str:
    """The diagnosis of one connection as an HTML block (cause, summary, fix, evidence list)."""
    rows = diagnosis[diagnosis["conn_id"] == conn_id]
    if rows.empty:
        raise TlskitError(f"no diagnosis row for conn_id {conn_id}", fix="pass the frame tlskit.diagnose returned")
    d = rows.iloc[0]
    items = "".join(f"<li>{html.escape(str(e))}</li>" for e in d["evidence"])
    fault = "" if pd.isna(d["fault"]) else f" (change the {html.escape(str(d['fault']))})"
    return (f"<p><b>{html.escape(str(d['cause']))}</b>: {html.escape(str(d['summary']))}</p>"
            f"<p><b>Fix{fault}:</b> {html.escape(str(d['remediation']))}</p><ul>{items}</ul>")


def table(frame: pd.DataFrame) -> Any:
    """A frame for reading, not for computing: no index, whole sentences, times to the second.

    Returns a pandas ``Styler`` (renders as HTML in notebooks and reports).
    """
    formats = {c: (lambda t: "" if pd.isna(t) else t.strftime("%Y-%m-%d %H:%M:%S UTC"))
               for c in frame.columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)}
    return (frame.style.hide(axis="index").format(formats, na_rep="")
            .set_properties(**{"text-align": "left", "vertical-align": "top"}))


def failed_connections(diagnosis: pd.DataFrame, limit: int = 12) -> list[int]:
    """Up to ``limit`` failed connections, one of each cause first, then the rest in order."""
    failed = diagnosis[diagnosis["cause"].astype(str) != "ok"]
    firsts = failed.drop_duplicates("cause")["conn_id"].astype(int).tolist()
    rest = [c for c in failed["conn_id"].astype(int) if c not in firsts]
    return (firsts + rest)[:limit]


def render_report(capture: str | Path, *, out: str | Path, keylog: str | Path | None = None,
                  truststore: str | Path | None = None, server_config: str | Path | None = None,
                  redact: bool = False, title: str | None = None) -> Path:
    """Run the postmortem template on a capture and write one self-contained HTML file.

    Parameters
    ----------
    capture, keylog, truststore, server_config
        Inputs, as for :func:`tlskit.load` and :func:`tlskit.diagnose`.
    out
        The HTML file to write.
    redact
        Replace IP addresses and host names with consistent stand-ins throughout.
    title
        Heading of the report (default: the capture's file name).

    Returns
    -------
    pathlib.Path
        ``out``. Key log secrets never reach it: the file is checked for each secret before
        it is written, and a hit is an error rather than a leak.
    """
    import tempfile

    import nbformat
    import papermill
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import TagRemovePreprocessor

    for p in (capture, keylog, truststore, server_config):
        if p is None:
            continue
        if not Path(p).exists():
            raise TlskitError("file not found", path=p, fix="check the path")
        if not Path(p).is_file() and not Path(p).is_dir():  # /dev/stdin, <(zcat ...): no second read
            raise TlskitError("is a pipe or device, not a file; the report reads it again in a notebook kernel",
                              path=p, fix=f"save it to a file first, e.g. `cat > saved{Path(p).suffix or '.pcap'}`, "
                              "and pass that file")
    capture = Path(capture).resolve()
    if Path(out).is_dir():
        raise TlskitError("is a directory", path=out, fix="give the report a file name, e.g. report.html")
    _check_inputs(capture, keylog, truststore, server_config)
    params = {
        "capture": str(capture),
        "keylog": str(Path(keylog).resolve()) if keylog else None,
        "truststore": str(Path(truststore).resolve()) if truststore else None,
        "server_config": str(Path(server_config).resolve()) if server_config else None,
        "redact": bool(redact),
        "title": title or "",
    }
    with tempfile.TemporaryDirectory(prefix="tlskit-report-") as tmp, _same_tlskit_in_kernel():
        executed = Path(tmp) / "postmortem.ipynb"
        try:
            with _quiet_kernel():
                papermill.execute_notebook(str(TEMPLATE), str(executed), parameters=params,
                                           kernel_name="python3", progress_bar=False, cwd=tmp)
        except papermill.PapermillExecutionError as err:
            raise TlskitError(f"the postmortem notebook failed: {err.ename}: {err.evalue}", path=capture,
                              fix=f"open {TEMPLATE} with the same inputs to see the failing cell") from None
        nb = nbformat.read(executed, as_version=4)
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True,
                            embed_images=True)
    # Cells tagged "report-hide" (how to run the template) are for notebook users, not readers.
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags={"report-hide"}), enabled=True)
    body, _ = exporter.from_notebook_node(nb)
    # Self-contained: the template's CDN scripts (require.js, MathJax) serve widgets and maths,
    # which a postmortem has none of; drop them so the file opens offline without requests.
    body = re.sub(r'<script[^>]*\ssrc="https?://[^"]*"[^>]*>\s*</script>', "", body)
    if redact:  # a second pass over the page: anything the notebook's redaction missed
        from tlskit.capture import load

        body = Redactor.from_capture(load(capture, keylog=keylog)).text(body)
    _check_no_secrets(body, keylog)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(body, encoding="utf-8")
    return target


def _check_inputs(capture: Path, keylog: str | Path | None, truststore: str | Path | None,
                  server_config: str | Path | None) -> None:
    """Read every input once in this process, so a bad one fails with its own typed error
    (naming that file and the fix) before a kernel starts, not re-wrapped from inside it."""
    import warnings

    from tlskit.capture import load
    from tlskit.certs import as_truststore
    from tlskit.ciphers import read_server_config

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the notebook shows the load warnings itself
        load(capture, keylog=keylog)
    if truststore is not None:
        as_truststore(truststore)
    if server_config is not None:
        read_server_config(server_config)


@contextmanager
def _quiet_kernel() -> Iterator[None]:
    """The kernel child inherits stderr and logs transport chatter there; a report run should
    print nothing but its result, so point fd 2 at /dev/null while it runs."""
    import sys

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real fd 2 (some notebook frontends): nothing to hide
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextmanager
def _same_tlskit_in_kernel() -> Iterator[None]:
    """Let the notebook kernel import this very tlskit (a stale editable install or another
    copy on the kernel's path would otherwise win), restoring PYTHONPATH afterwards."""
    root = str(Path(__file__).resolve().parents[2])
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = root + (os.pathsep + before if before else "")
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = before


def _check_no_secrets(body: str, keylog: str | Path | None) -> None:
    if keylog is None:
        return
    lowered = body.lower()
    for line in Path(keylog).read_text(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 3 and not line.startswith("#") and parts[2].lower() in lowered:
            raise TlskitError(f"a secret of the key log ({parts[0]}) would appear in the report; nothing written",
                              path=keylog, fix="report this as a tlskit bug")


__all__ = [
    "PREVENTION",
    "TEMPLATE",
    "Redactor",
    "evidence_html",
    "failed_connections",
    "impact",
    "render_report",
    "root_causes",
    "table",
]
