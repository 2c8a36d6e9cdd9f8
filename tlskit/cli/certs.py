"""`tlskit certs CAPTURE`: each captured certificate chain judged against a truststore."""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

CHAIN_SUFFIXES = {".pem", ".crt", ".cer", ".der"}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "certs",
        help="judge captured certificate chains against a truststore (openssl-verify style)",
        description="Judge every certificate chain in a capture (or one chain in a PEM/DER file) "
        "against a truststore, at the capture's time.",
    )
    p.add_argument("input", type=Path, help="capture file, or a PEM/DER chain file (then --at is required)")
    p.add_argument("--keylog", type=Path, help="key log: makes TLS 1.3 certificates visible")
    p.add_argument("--truststore", "-t", help="PEM, directory, JKS, PKCS#12, Apigee certInfo JSON, or 'system'")
    p.add_argument("--password", "-p", help="store password (JKS/PKCS#12)")
    p.add_argument("--client-truststore", help="the server's client-CA store, for client chains (mutual TLS)")
    p.add_argument("--host", help="host name to check (default: each connection's SNI)")
    p.add_argument("--cn-fallback", action="store_true", help="accept a name found only in the subject CN (Java, curl)")
    p.add_argument("--at", help="judge validity at this ISO time instead of the capture time")
    p.add_argument("--json", action="store_true", help="one JSON object per certificate")
    p.set_defaults(func=run)


def _at(text: str | None) -> datetime | None:
    if text is None:
        return None
    from tlskit.errors import TlskitError

    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise TlskitError(f"--at {text!r} is not an ISO date/time", fix="use e.g. 2024-03-01T12:00:00Z") from None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _source(args: argparse.Namespace) -> Any:
    if args.input.suffix.lower() in CHAIN_SUFFIXES:
        from tlskit.certs._readers import _first_der, _pem_blocks
        from tlskit.errors import TlskitError

        try:
            data = args.input.read_bytes()
        except OSError as exc:
            raise TlskitError(f"cannot read the chain file ({exc.strerror})", path=args.input,
                              fix="check the path") from exc
        ders = [_first_der(d) for label, d in _pem_blocks(data) if "CERTIFICATE" in label] if b"-----BEGIN" in data else [data]
        if not data.strip() or not ders:
            raise TlskitError("no certificate in this file", path=args.input,
                              fix="give the PEM chain (-----BEGIN CERTIFICATE-----, leaf first) or one DER certificate")
        if args.at is None:
            raise TlskitError("a chain file has no capture time", path=args.input,
                              fix="pass --at with the time of the failure (validity is never judged at 'now')")
        return ders
    import tlskit

    return tlskit.load(args.input, keylog=args.keylog)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from tlskit.certs import compare_certificates

    frame = compare_certificates(
        _source(args), args.truststore, hostname=args.host, at=_at(args.at), password=args.password,
        client_truststore=args.client_truststore, cn_fallback=args.cn_fallback,
    )
    if args.json:
        print(frame.drop(columns=["san_ip"]).to_json(orient="records", date_format="iso", indent=2))
        return 0
    if frame.empty:
        print("No certificate chain in this input (TLS 1.3 chains need --keylog).")
        return 0
    store = args.truststore or "none: structure only"
    print(f"truststore: {store}")
    for (conn, side), g in frame.groupby(["conn_id", "side"], observed=True, dropna=False, sort=True):
        first = g.iloc[0]
        where = f"{side} chain" if pd.isna(conn) else f"conn {conn} {side} chain"
        host = f" for {first.hostname}" if isinstance(first.hostname, str) else ""
        print(f"\n{where}{host}: {first.chain_verdict}")
        print(f"  {first.chain_explanation}")
        if first.chain_verdict not in ("trusted", "unverified"):
            print(f"  Fix: {first.chain_remedy}")
        for _, r in g.iterrows():
            mark = "!" if bool(r.at_fault) else " "
            trust = f"in truststore ({r.truststore_alias})" if r.in_truststore is True else ""
            name = r.subject if isinstance(r.subject, str) else f"(unparseable: {r.parse_error})"
            print(f"  {mark}#{r.position} {name}  [{r.validity}] {trust}".rstrip())
    return 0
