"""TriageView: pick a connection, see its diagnosis and its ladder diagram."""

from __future__ import annotations

import html
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import pandas as pd

from tlskit.errors import TlskitError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


class TriageView:
    """An ipywidgets view for walking through the connections of a capture.

    A ``connection`` Dropdown lists every connection, the ones that did not complete first,
    each labelled with its cause; below it, a card with the diagnosis (cause, summary,
    remediation, evidence) and the connection's ladder diagram as a PNG image. Choosing
    another connection redraws both.

    Parameters
    ----------
    capture
        What :func:`tlskit.load` returns.
    diagnosis
        A :func:`tlskit.diagnose` frame; computed with ``diagnose_kwargs`` when omitted.
    on_change
        Called with the newly selected ``conn_id``.
    diagnose_kwargs
        Passed to :func:`tlskit.diagnose` (``truststore=``, ``hostname=``, ``lang=`` ...).

    Attributes
    ----------
    value : int
        The selected ``conn_id``; set it to select another connection.
    connection : ipywidgets.Dropdown
        The selector (``.options`` are ``(label, conn_id)`` pairs).
    card : ipywidgets.HTML
        The diagnosis of the selected connection.
    image : ipywidgets.Image
        Its ladder diagram (PNG).
    widget : ipywidgets.VBox
        What to display.
    """

    def __init__(self, capture: Any, diagnosis: pd.DataFrame | None = None, *,
                 on_change: Callable[[int], None] | None = None, **diagnose_kwargs: Any) -> None:
        import ipywidgets as w  # lazily: import tlskit must not need ipywidgets

        if diagnosis is None:
            from tlskit.diagnose import diagnose

            diagnosis = diagnose(capture, **diagnose_kwargs)
        self.capture, self.diagnosis = capture, diagnosis
        self._on_change = on_change
        options = _options(capture.connections, diagnosis)
        if not options:
            raise TlskitError("no TLS connection in this capture to triage",
                              fix="check the capture filter or the port (tlskit doctor CAPTURE)")
        self.connection = w.Dropdown(options=options, value=options[0][1], description="connection",
                                     layout=w.Layout(width="640px"), style={"description_width": "90px"})
        self.card = w.HTML()
        self.image = w.Image(format="png", layout=w.Layout(max_width="980px"))
        self.widget = w.VBox([self.connection, self.card, self.image])
        self.widget.add_class("tlskit-triage")
        self.connection.observe(self._changed, names="value")
        self._render(int(self.connection.value))

    @property
    def value(self) -> int:
        return int(self.connection.value)

    @value.setter
    def value(self, conn_id: int) -> None:
        if int(conn_id) not in {v for _, v in self.connection.options}:
            raise TlskitError(f"no connection with conn_id {conn_id} in this capture",
                              fix="choose one of the ids listed in the connection menu")
        self.connection.value = int(conn_id)

    def _changed(self, change: dict[str, Any]) -> None:
        self._render(int(change["new"]))
        if self._on_change is not None:
            self._on_change(int(change["new"]))

    def _render(self, conn_id: int) -> None:
        from tlskit.plot import ladder

        self.card.value = _card(self.diagnosis, conn_id)
        self.image.value = _png(ladder(self.capture, conn_id, diagnosis=self.diagnosis))

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)


def _png(ax: Axes) -> bytes:
    """The figure as PNG bytes, then closed: the view keeps the picture, and a live figure
    would also be printed inline at the end of the cell."""
    import matplotlib.pyplot as plt

    fig = cast("Figure", ax.figure)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _options(connections: pd.DataFrame, diagnosis: pd.DataFrame) -> list[tuple[str, int]]:
    causes = {int(r["conn_id"]): str(r["cause"]) for _, r in diagnosis.iterrows()} if not diagnosis.empty else {}
    rows = []
    for _, c in connections.iterrows():
        cid = int(c["conn_id"])
        cause = causes.get(cid, "ok" if pd.notna(c["established"]) and bool(c["established"]) else "undetermined")
        host = "" if pd.isna(c["sni"]) else f" {c['sni']}"
        label = f"#{cid} {c['client_ip']}:{c['client_port']} → {c['server_ip']}:{c['server_port']}{host}: {cause}"
        rows.append((cause == "ok", cid, label))
    return [(label, cid) for _, cid, label in sorted(rows)]


def _card(diagnosis: pd.DataFrame, conn_id: int) -> str:
    from tlskit.plot import CAUSE_COLORS, CAUSE_LABELS

    rows = diagnosis[diagnosis["conn_id"] == conn_id] if not diagnosis.empty else diagnosis
    if rows.empty:
        return f"<p>conn {conn_id}: no diagnosis row.</p>"
    d = rows.iloc[0]
    cause = str(d["cause"])
    color = CAUSE_COLORS.get(cause, "#424242")

    def text(col: str) -> str:
        return "" if pd.isna(d[col]) else html.escape(str(d[col]))

    evidence = "".join(f"<li>{html.escape(str(e))}</li>" for e in (d["evidence"] or []))
    fault = f" · change the <b>{text('fault')}</b>" if not pd.isna(d["fault"]) else ""
    return (
        f'<div class="tlskit-card" style="border-left:5px solid {color};padding:4px 10px;margin:4px 0">'
        f'<div style="color:{color};font-weight:bold;font-size:1.1em" class="tlskit-cause">'
        f"conn {conn_id}: {html.escape(CAUSE_LABELS.get(cause, cause))} ({html.escape(cause)})</div>"
        f"<div>{text('summary')}</div>"
        + (f"<div><b>Fix</b>{fault}: {text('remediation')}</div>" if text("remediation") else "")
        + f"<details><summary>evidence (rule <code>{text('rule')}</code>, confidence {text('confidence')})</summary>"
        f"<ul>{evidence}</ul></details></div>"
    )


class ExerciseView:
    """A training exercise: look at a connection, pick the cause, then see the explanation.

    Shows the connection's ladder without any diagnosis (the title names only what the
    packets show), a Dropdown of causes and a "Check" button; checking reveals whether the
    pick was right and the explanation.

    Parameters
    ----------
    capture
        What :func:`tlskit.load` returns.
    conn_id
        The connection to study.
    answer
        The right cause (one of :data:`tlskit.schema.CAUSES`).
    explanation
        What to show once checked (why, and the fix).

    Attributes
    ----------
    value : str or None
        The cause picked (None before picking); settable.
    correct : bool or None
        Whether the last check was right (None before the first check).
    choice, check, result, image, widget
        The Dropdown, Button, HTML result, ladder Image and the VBox to display.
    """

    def __init__(self, capture: Any, conn_id: int, *, answer: str, explanation: str) -> None:
        import ipywidgets as w

        from tlskit.plot import ladder
        from tlskit.schema import CAUSES

        if answer not in CAUSES:
            raise TlskitError(f"unknown cause {answer!r}", fix=f"use one of {', '.join(CAUSES)}")
        self.answer, self.explanation = answer, explanation
        self.correct: bool | None = None
        self.image = w.Image(value=_png(ladder(capture, conn_id)), format="png", layout=w.Layout(max_width="900px"))
        self.choice = w.Dropdown(options=[("choose a cause…", None), *((c, c) for c in CAUSES)],
                                 value=None, description="cause")
        self.check = w.Button(description="Check", button_style="primary")
        self.result = w.HTML()
        self.check.on_click(lambda _: self.grade())
        self.widget = w.VBox([self.image, w.HBox([self.choice, self.check]), self.result])

    @property
    def value(self) -> str | None:
        return cast("str | None", self.choice.value)

    @value.setter
    def value(self, cause: str | None) -> None:
        self.choice.value = cause

    def grade(self) -> bool | None:
        """Compare the pick with the answer and show the explanation (also what "Check" does)."""
        if self.value is None:
            self.result.value = "<p>Pick a cause first.</p>"
            return None
        self.correct = self.value == self.answer
        verdict = ("<b style='color:#2e7d32'>Right.</b>" if self.correct else
                   f"<b style='color:#c62828'>Not quite</b>: it is <b>{html.escape(self.answer)}</b>.")
        self.result.value = f"<p>{verdict} {html.escape(self.explanation)}</p>"
        return self.correct

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
