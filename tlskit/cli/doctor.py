"""`tlskit doctor`: report the environment and how to fix what is missing."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from tlskit.doctor import healthy, run_checks


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check tshark, Python packages and optional tools; say how to fix")
    p.add_argument("--json", action="store_true", help="print the checks as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    checks = run_checks()
    if args.json:
        print(json.dumps([asdict(c) for c in checks], indent=2))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            mark = "ok  " if c.ok else ("FAIL" if c.required else "warn")
            print(f"{mark}  {c.name:<{width}}  {c.detail}")
            if not c.ok and c.fix:
                print(f"{'':6}{'':<{width}}  fix: {c.fix}")
        print("\nAll required parts are present." if healthy(checks)
              else "\nSomething required is missing: apply the fixes above.")
    return 0 if healthy(checks) else 1
