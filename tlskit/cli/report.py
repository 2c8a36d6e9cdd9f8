"""`tlskit report CAPTURE -o report.html`: a shareable postmortem as one HTML file."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "report",
        help="write a self-contained HTML postmortem of a capture",
        description="Run the postmortem notebook on a capture and write one self-contained HTML file "
                    "(figures embedded). Key log secrets never appear in it.",
    )
    p.add_argument("capture", type=Path, help="pcap or pcapng file")
    p.add_argument("-o", "--output", type=Path, required=True, help="HTML file to write")
    p.add_argument("--keylog", type=Path, help="SSLKEYLOGFILE: reveals TLS 1.3 certificates and alerts")
    p.add_argument("--truststore", type=Path, help="the verifying side's truststore (PEM, JKS, PKCS#12)")
    p.add_argument("--server-config", type=Path, help="nginx.conf, Apigee <SSLInfo> or a cipher string file")
    p.add_argument("--redact", action="store_true",
                   help="replace IP addresses and host names with consistent stand-ins")
    p.add_argument("--title", help="heading of the report (default: the capture's file name)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tlskit.report import render_report

    out = render_report(args.capture, out=args.output, keylog=args.keylog, truststore=args.truststore,
                        server_config=args.server_config, redact=args.redact, title=args.title)
    print(out)
    return 0
