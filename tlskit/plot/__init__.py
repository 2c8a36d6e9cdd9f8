"""Figures of handshakes: ladder diagrams, capture timelines, latency breakdowns.

Every function takes an optional matplotlib ``ax`` and returns the ``Axes`` it drew on; none
calls ``plt.show()`` or changes global settings. Importing this package imports matplotlib;
``import tlskit`` alone does not.

    >>> from tlskit import plot
    >>> ax = plot.ladder(cap, 3, diagnosis=diag)
    >>> plot.save(ax, "docs/images/conn3")  # conn3.png and conn3.svg
"""

from __future__ import annotations

from tlskit.plot._common import CAUSE_COLORS, CAUSE_LABELS
from tlskit.plot._export import save, style

# The certs part's chain picture, imported eagerly: a lazy name would be shadowed by the
# submodule once anything imports tlskit.plot.chain, and plot.chain(...) would call a module.
from tlskit.plot.chain import chain
from tlskit.plot.ladder import ladder
from tlskit.plot.latency import latency, latency_plot
from tlskit.plot.timeline import timeline

__all__ = [
    "CAUSE_COLORS",
    "CAUSE_LABELS",
    "chain",
    "ladder",
    "latency",
    "latency_plot",
    "save",
    "style",
    "timeline",
]
