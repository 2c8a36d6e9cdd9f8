"""`tlskit capture-plan`: exact capture commands and key-log recipes for a situation."""

from __future__ import annotations

import argparse

from tlskit.capture_plan import SIDES, capture_plan
from tlskit.errors import TlskitError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("capture-plan", help="print the commands to capture a TLS failure right")
    p.add_argument("--host", required=True, help="peer to watch (server when capturing on the client)")
    p.add_argument("--port", type=int, default=443, help="server TCP port (default 443)")
    p.add_argument("--side", choices=SIDES, default="client", help="where the capture runs")
    p.add_argument("--interface", default="any", help="capture interface (default: any)")
    p.add_argument("-w", "--write", dest="outfile", help="capture file name")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.host.strip():
        raise TlskitError("--host is empty", fix="give the peer's address or name (or 'any' for every client)")
    if not 0 < args.port < 65536:
        raise TlskitError(f"--port {args.port} is not a TCP port", fix="give a port 1-65535 (443 for HTTPS)")
    print(capture_plan(args.host, args.port, args.side, interface=args.interface, outfile=args.outfile))
    return 0
