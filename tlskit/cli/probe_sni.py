"""`tlskit probe-sni HOST:PORT`: does the server need SNI, and which names does it know?"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from tlskit.errors import TlskitError
from tlskit.sni import WRONG_NAME, probe_sni


def _target(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep:
        return text, 443
    host = host.strip("[]")  # [::1]:443
    try:
        return host, int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe-sni", help="test whether a live server needs SNI and which names it knows")
    p.add_argument("target", type=_target, metavar="HOST:PORT")
    p.add_argument("--name", help="host name clients use (default: HOST when it is a name)")
    p.add_argument("--wrong-name", default=WRONG_NAME, help="a name the server cannot know")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per attempt")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    host, port = args.target
    if not host or not 0 < port < 65536:
        raise TlskitError(f"{host}:{port} is not a server address", fix="give HOST:PORT with a port 1-65535, e.g. api.example.com:443")
    result = probe_sni(host, port, args.name, wrong_name=args.wrong_name, timeout=args.timeout)
    if result.verdicts == ("unreachable",):
        # Nothing was probed: a wrong address is bad input, not a finding about the server's SNI.
        raise TlskitError(f"cannot connect to {host}:{port} ({result.attempts[0].error})",
                          fix="check the host name, the port and that the server listens there (a firewall may drop it)")
    if args.json:
        print(json.dumps(asdict(result), indent=2))
        return 0
    print(f"SNI probe of {host}:{port}")
    for a in result.attempts:
        outcome = f"ok, {a.version}, certificate {a.cert_subject}" if a.ok else f"FAILED: {a.alert or a.error}"
        warn = f" (warning alerts: {', '.join(a.warning_alerts)})" if a.warning_alerts else ""
        print(f"  {a.label:<45} {outcome}{warn}")
    print()
    for line in result.explain():
        print(f"- {line}")
    return 0
