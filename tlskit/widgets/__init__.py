"""Jupyter views built from ipywidgets: pick, change an input, see the result change.

Each view composes ipywidgets, exposes ``.value`` (the current result) and ``.widget`` (what
to display), and is testable by setting its controls' ``.value``. ipywidgets is imported
only when a view is created, so ``import tlskit.widgets`` stays light.

    >>> from tlskit.widgets import TruststoreView
    >>> TruststoreView(cap, truststore="truststore.jks", password="changeit")
"""

from __future__ import annotations

import importlib
from typing import Any

# Views other parts contribute: name -> module, loaded on first use.
_VIEWS = {"TruststoreView": "tlskit.widgets.truststore", "TriageView": "tlskit.widgets.triage",
          "ExerciseView": "tlskit.widgets.triage",
          "CipherExplorer": "tlskit.widgets.ciphers"}


def __getattr__(name: str) -> Any:
    if name in _VIEWS:
        return getattr(importlib.import_module(_VIEWS[name]), name)
    raise AttributeError(f"module 'tlskit.widgets' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_VIEWS))


__all__ = ["CipherExplorer", "ExerciseView", "TriageView", "TruststoreView"]
