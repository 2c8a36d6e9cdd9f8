"""Option values shared by subcommands, checked the way the CLI reports bad input: one line
with the fix (a TlskitError), not argparse's usage block."""

from __future__ import annotations

from tlskit.errors import TlskitError


def workers(text: str) -> int:
    """``--workers N``: a number of processes, 1 or more."""
    if not text.strip().isdigit() or int(text) < 1:
        raise TlskitError(f"--workers takes a number of processes (1 or more), not {text!r}",
                          fix="give e.g. --workers 4, or leave it out for one process")
    return int(text)
