"""Saving figures (PNG and SVG) and an opt-in house style."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tlskit.errors import TlskitError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FORMATS = ("png", "svg")

# Applied only inside ``with style():``; tlskit never touches the global rcParams.
STYLE: dict[str, Any] = {
    "font.size": 9,
    "axes.titlesize": 10.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "svg.fonttype": "none",  # SVG text stays text: searchable, and diffs stay readable
}


@contextmanager
def style(**overrides: Any) -> Iterator[None]:
    """Temporarily use tlskit's figure style (restores the previous settings on exit).

    >>> with tlskit.plot.style():
    ...     tlskit.plot.timeline(cap)
    """
    import matplotlib

    settings: dict[Any, Any] = {**STYLE, **overrides}
    with matplotlib.rc_context(settings):
        yield


def save(figure: Figure | Axes, path: str | Path, *, formats: Iterable[str] = FORMATS,
         dpi: int = 150) -> list[Path]:
    """Write a figure as PNG and SVG (or ``formats``) next to each other.

    Parameters
    ----------
    figure
        A Figure, or an Axes whose figure is saved.
    path
        Target without or with a suffix: ``out/ladder`` and ``out/ladder.png`` both write
        ``out/ladder.png`` and ``out/ladder.svg``. Missing folders are created.
    formats
        File types to write (any matplotlib supports: png, svg, pdf).
    dpi
        Resolution of raster formats.

    Returns
    -------
    list[pathlib.Path]
        The files written, in ``formats`` order.
    """
    fig = figure.get_figure() if hasattr(figure, "get_figure") and not hasattr(figure, "savefig") else figure
    if fig is None or not hasattr(fig, "savefig"):
        raise TlskitError(f"cannot save a {type(figure).__name__}", fix="pass the Axes a tlskit.plot function returned")
    base = Path(path)
    if base.suffix.lower().lstrip(".") in {"png", "svg", "pdf"}:
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    import matplotlib

    written = []
    # Fixed metadata so re-rendering an unchanged figure gives an identical PNG and a dateless SVG.
    with matplotlib.rc_context({"svg.hashsalt": "tlskit"}):
        for fmt in formats:
            target = base.with_name(f"{base.name}.{fmt}")
            metadata = {"Software": "tlskit"} if fmt == "png" else {"Date": None} if fmt == "svg" else None
            fig.savefig(target, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metadata)
            written.append(target)
    return written
