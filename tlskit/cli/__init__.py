"""The `tlskit` command line.

Each subcommand lives in its own module here (``doctor.py``, ``diagnose.py``, ...) and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a callable taking the
parsed arguments and returning an exit code. Modules are discovered, so adding a command is
adding a file.

Exit codes: 0 when the input was read (a failed handshake is a finding, not an error), 2 for
unusable input or a broken environment (one clear line on stderr), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from tlskit._version import __version__
from tlskit.errors import TlskitError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tlskit",
        description="Investigate TLS/SSL handshake failures from packet captures.",
    )
    parser.add_argument("--version", action="version", version=f"tlskit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except TlskitError as err:
        print(f"tlskit: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tlskit: interrupted", file=sys.stderr)
        return 130
