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
import warnings
from collections.abc import Sequence
from typing import Any, TextIO

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
    for stream in (sys.stdout, sys.stderr):  # --lang ja on a non-UTF-8 console: escapes, not UnicodeEncodeError
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    shown: set[str] = set()

    def one_line(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: TextIO | None = None, line: str | None = None) -> None:
        # A terminal user needs the warning once, as one line; not the source line that raised it.
        text = " ".join(str(message).split())
        if text not in shown:
            shown.add(text)
            print(f"tlskit: warning: {text}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = one_line
            return int(args.func(args) or 0)
    except BrokenPipeError:  # `tlskit ... | head`: the reader left; not an error of ours
        _silence_stdout(sys.stdout)
        return 0
    except TlskitError as err:
        print(f"tlskit: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tlskit: interrupted", file=sys.stderr)
        return 130


def _silence_stdout(stream: Any) -> None:
    import contextlib
    import os

    with contextlib.suppress(OSError, ValueError, AttributeError):  # later flushes at exit would raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
