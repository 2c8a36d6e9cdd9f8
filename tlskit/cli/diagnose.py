"""`tlskit diagnose CAPTURE`: the cause, evidence and fix for every TLS handshake in a capture."""

from __future__ import annotations

import argparse
import json
import shutil
import textwrap
from typing import Any

import pandas as pd

from tlskit.cli._types import workers
from tlskit.i18n import LANGUAGES

JSON_KEYS = ["conn_id", "client", "client_port", "server", "server_port", "sni", "version", "cipher",
             "established", "alert", "alert_from", "cause", "confidence", "rule", "fault", "summary",
             "remediation", "evidence", "hop", "fix_on", "hop_inferred"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diagnose", help="say why each TLS handshake in a capture failed, and what to change")
    p.add_argument("capture", help="pcap or pcapng file")
    p.add_argument("--keylog", help="SSLKEYLOGFILE-format key log (decrypts TLS 1.3 handshakes)")
    p.add_argument("--truststore", help="the verifying side's truststore (PEM, JKS, PKCS#12, directory)")
    p.add_argument("--truststore-password", help="password of a JKS/PKCS#12 truststore")
    p.add_argument("--server-config", help="server configuration (nginx conf, Apigee SSLInfo, cipher string)")
    p.add_argument("--hostname", help="host name the client verifies (for connections without SNI)")
    p.add_argument("--json", action="store_true", help="print a JSON array, one object per connection")
    p.add_argument("--lang", choices=LANGUAGES, default="en", help="language of the explanations")
    p.add_argument("--roles", metavar="TOPOLOGY",
                   help="JSON/TOML file with router / message_processor / backend addresses (labels inbound/outbound)")
    p.add_argument("--engine", choices=("native", "tshark"), default="native", help="capture reader")
    p.add_argument("--workers", default="1", metavar="N",
                   help="processes reading the capture (native engine; big captures of many connections)")
    p.set_defaults(func=run)



def run(args: argparse.Namespace) -> int:
    from tlskit.capture import load
    from tlskit.diagnose import diagnose

    capture = load(args.capture, keylog=args.keylog, engine=args.engine, workers=workers(args.workers))
    truststore: Any = None
    if args.truststore:
        from tlskit.certs import load_truststore

        truststore = load_truststore(args.truststore, password=args.truststore_password)
    frame = diagnose(capture, truststore=truststore, server_config=args.server_config,
                     hostname=args.hostname, lang=args.lang, roles=args.roles)
    print(to_json(frame) if args.json else to_text(frame))
    return 0


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The diagnosis as JSON-ready dicts (missing values as None)."""
    out = []
    for _, row in frame.iterrows():
        rec: dict[str, Any] = {}
        for key in JSON_KEYS:
            value = row[key]
            if isinstance(value, list):
                rec[key] = [str(v) for v in value]
            elif value is None or pd.isna(value):
                rec[key] = None
            elif key in ("conn_id", "client_port", "server_port"):
                rec[key] = int(value)
            elif key == "confidence":
                rec[key] = round(float(value), 2)
            elif key in ("established", "hop_inferred"):
                rec[key] = bool(value)
            else:
                rec[key] = str(value)
        out.append(rec)
    return out


def to_json(frame: pd.DataFrame) -> str:
    return json.dumps(records(frame), ensure_ascii=False, indent=2)


def to_text(frame: pd.DataFrame, width: int | None = None) -> str:
    """A terminal table (one line per connection) followed by the details of each failure."""
    width = width or max(80, min(shutil.get_terminal_size((120, 24)).columns, 160))
    if frame.empty:
        return "no TLS connections in this capture"
    head = ["#", "client -> server", "sni", "version", "alert", "cause", "conf"]
    lines = []
    for r in records(frame):
        alert = f"{r['alert']} ({r['alert_from']})" if r["alert"] else "-"
        lines.append([str(r["conn_id"]), f"{_endpoint(r['client'], r['client_port'])} -> {_endpoint(r['server'], r['server_port'])}",
                      r["sni"] or "-", r["version"] or "-", alert, r["cause"], f"{r['confidence']:.2f}"])
    widths = [max(len(x) for x in col) for col in zip(head, *lines, strict=False)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=False)).rstrip()]
    out += ["  ".join(c.ljust(w) for c, w in zip(line, widths, strict=False)).rstrip() for line in lines]
    for r in records(frame):
        if r["cause"] == "ok":
            continue
        out.append("")
        out.append(f"[{r['conn_id']}] {r['cause']} ({r['rule']}, confidence {r['confidence']:.2f})")
        out += textwrap.wrap(r["summary"] or "", width, initial_indent="  ", subsequent_indent="  ")
        for item in r["evidence"] or []:
            out += textwrap.wrap(item, width, initial_indent="  - ", subsequent_indent="    ")
        if r["remediation"]:
            out += textwrap.wrap(r["remediation"], width, initial_indent="  => ", subsequent_indent="     ")
    return "\n".join(out)


def _endpoint(address: str | None, port: int | None) -> str:
    """address:port, with IPv6 addresses in brackets as in URLs."""
    host = f"[{address}]" if address and ":" in address else str(address)
    return f"{host}:{port}"
