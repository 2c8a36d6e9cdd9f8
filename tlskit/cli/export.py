"""`tlskit export CAPTURE -o DIR`: a capture of any size to Parquet tables, in bounded memory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tlskit.cli._types import workers


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="read a capture (any size) into Parquet tables: messages, connections, certificates",
        description="Read a capture into DIR/{messages,connections,certificates}.parquet and capture.json "
        "without holding its tables in memory (rows are written as connections finish). Read them back "
        "with tlskit.read_parquet(DIR), pandas or pyarrow.",
    )
    p.add_argument("capture", type=Path, help="pcap or pcapng file (gzip ok)")
    p.add_argument("-o", "--out", type=Path, required=True, metavar="DIR", help="output directory")
    p.add_argument("--keylog", type=Path, help="SSLKEYLOGFILE-format key log (decrypts TLS 1.3 handshakes)")
    p.add_argument("--workers", default="1", metavar="N",
                   help="processes reading the capture, each a share of its connections")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from tlskit.capture import export_parquet

    out = export_parquet(args.capture, args.out, keylog=args.keylog, workers=workers(args.workers))
    meta = json.loads((out / "capture.json").read_text())
    print(f"{meta['connections']} TLS connection(s) from {args.capture} -> {out}/"
          "{messages,connections,certificates}.parquet", file=sys.stdout)
    return 0
