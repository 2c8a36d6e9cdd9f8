"""tlskit: find out why a TLS handshake failed, from a packet capture, in Jupyter.

    >>> import tlskit
    >>> cap = tlskit.load("incident.pcapng", keylog="sslkeys.log")
    >>> tlskit.diagnose(cap)

Names are imported lazily so that ``import tlskit`` stays fast and free of matplotlib and
ipywidgets; ``tlskit.plot`` and ``tlskit.widgets`` load them on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from tlskit._version import __version__
from tlskit.errors import (
    CaptureError,
    CaptureWarning,
    ConfigError,
    KeylogError,
    TlskitError,
    TruststoreError,
    TsharkError,
    TsharkNotFound,
    TsharkTooOld,
)

# public name -> module that defines it
_LAZY = {
    "Capture": "tlskit.capture",
    "load": "tlskit.capture",
    "load_many": "tlskit.capture",
    "export_parquet": "tlskit.capture",
    "read_parquet": "tlskit.capture",
    "diagnose": "tlskit.diagnose",
    "compare_ciphers": "tlskit.ciphers",
    "compare_protocols": "tlskit.ciphers",
    "compare_certificates": "tlskit.certs",
    "load_truststore": "tlskit.certs",
    "compare_connections": "tlskit.incident",
    "group_connections": "tlskit.incident",
    "load_jsse_log": "tlskit.jsse",
}
_SUBMODULES = {"plot", "widgets", "lab", "registry", "schema", "report", "ciphers", "certs"}

def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"tlskit.{name}")
    raise AttributeError(f"module 'tlskit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | _SUBMODULES)


__all__ = [
    "CaptureError",
    "CaptureWarning",
    "ConfigError",
    "KeylogError",
    "TlskitError",
    "TruststoreError",
    "TsharkError",
    "TsharkNotFound",
    "TsharkTooOld",
    "__version__",
    *_LAZY,
]
