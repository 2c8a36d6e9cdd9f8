"""`tlskit lab OUTDIR [--scenario NAME ...] [--list]`: build the lab's captures and answer keys."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lab", help="make realistic TLS failure captures with answer keys")
    p.add_argument("outdir", nargs="?", help="folder to write OUTDIR/<scenario>/ into")
    p.add_argument("--scenario", "-s", action="append", metavar="NAME",
                   help="build only this scenario (repeatable); default: all")
    p.add_argument("--list", action="store_true", help="list the scenarios and exit")
    p.add_argument("--progress", action="store_true", help="show a progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tlskit import lab
    from tlskit.errors import LabError

    if args.list:
        width = max(len(n) for n in lab.SCENARIOS)
        for name, sc in lab.SCENARIOS.items():
            alert = f"{sc.alert} from {sc.alert_from}" if sc.alert else "no alert"
            print(f"{name:<{width}}  {sc.cause:<20} {sc.tls_version:<8} {sc.stack:<18} {alert}")
        return 0
    if not args.outdir:
        raise LabError("no output folder given", fix="run `tlskit lab OUTDIR` (or --list)")
    results = lab.build(args.outdir, args.scenario, progress=args.progress)
    for r in results:
        if r.skipped:
            print(f"skipped {r.name}: {r.skipped}")
        else:
            print(f"{r.name}: {r.capture}  ({r.answer['cause']})")
    built = sum(1 for r in results if not r.skipped)
    print(f"{built} of {len(results)} scenarios built in {args.outdir}")
    return 0
