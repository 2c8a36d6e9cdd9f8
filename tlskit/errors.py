"""The exceptions tlskit raises for bad input and a broken environment.

A failed handshake is never an exception: it is a row with a cause. Exceptions are for
input tlskit cannot use (a file that is not a capture, a wrong keystore password) and for
a broken environment (tshark missing). Each carries the file it is about and the fix, and
renders as one clear line (``str(err)``) in a terminal and as a short help box in Jupyter.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any


class TlskitError(Exception):
    """Base class: ``what`` went wrong with ``path``, and ``fix`` says what to do."""

    def __init__(self, what: str, *, path: str | Path | None = None, fix: str | None = None):
        self.what = what
        self.path = str(path) if path is not None else None
        self.fix = fix
        super().__init__(self._line())

    def __reduce__(self) -> tuple[Any, ...]:
        # rebuilt from its parts in the process that receives it (a pool worker's error
        # reaches load() whole: what, path and fix, not a message read as `what`)
        return _rebuild, (type(self), self.what, self.path, self.fix)

    def _line(self) -> str:
        where = f"{self.path}: " if self.path else ""
        fix = f" Fix: {self.fix}" if self.fix else ""
        return f"{where}{self.what}.{fix}" if not self.what.endswith(".") else f"{where}{self.what}{fix}"

    def _repr_html_(self) -> str:  # msticpy-style help box when an error is displayed in Jupyter
        fix = f"<br><b>Fix:</b> {html.escape(self.fix)}" if self.fix else ""
        where = f"<code>{html.escape(self.path)}</code>: " if self.path else ""
        return (
            '<div style="border-left:4px solid #c0392b;padding:4px 8px;background:#fdf2f2">'
            f"<b>{type(self).__name__}</b>: {where}{html.escape(self.what)}{fix}</div>"
        )


def _rebuild(cls: type[TlskitError], what: str, path: str | None, fix: str | None) -> TlskitError:
    return cls(what, path=path, fix=fix)


class CaptureError(TlskitError):
    """The file is missing, unreadable, not a capture, empty or damaged beyond use."""


class KeylogError(TlskitError):
    """A key log file is missing or holds no usable secrets."""


class TsharkError(TlskitError):
    """tshark is missing, too old, or failed on a file."""


class TsharkNotFound(TsharkError):
    """tshark is not installed or not on PATH."""


class TsharkTooOld(TsharkError):
    """The installed tshark is older than tlskit supports."""


class TruststoreError(TlskitError):
    """A truststore or keystore cannot be read (wrong password, corrupt, unknown format)."""


class ConfigError(TlskitError):
    """A server configuration (nginx, Apigee SSLInfo, cipher string) cannot be parsed."""


class LabError(TlskitError):
    """The lab could not build a scenario (a TLS stack or tool it needs is missing)."""


class NotFoundError(TlskitError, KeyError):
    """A lookup by id found nothing (``Capture.connection(999)``); still a KeyError for old callers."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return self._line()


class CaptureWarning(UserWarning):
    """Partial results: part of a capture could not be read (truncated, garbled record)."""


__all__ = [
    "CaptureError",
    "CaptureWarning",
    "ConfigError",
    "KeylogError",
    "LabError",
    "NotFoundError",
    "TlskitError",
    "TruststoreError",
    "TsharkError",
    "TsharkNotFound",
    "TsharkTooOld",
]
