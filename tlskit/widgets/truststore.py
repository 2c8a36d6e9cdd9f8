"""TruststoreView: pick a captured chain, load another truststore or host name, see the verdict change."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from tlskit.certs import ChainVerdict, Truststore, captured_chains, load_truststore, verify_chain
from tlskit.certs._compare import CapturedChain, chain_rows
from tlskit.errors import TlskitError
from tlskit.schema import conform

VERDICT_COLOURS = {"trusted": "#2e7d32", "unverified": "#616161"}
SHOWN = ["position", "subject", "issuer", "validity", "in_truststore", "issuer_in_chain",
         "issuer_in_truststore", "signature_valid", "in_path", "at_fault"]


class TruststoreView:
    """An ipywidgets view of one captured chain judged against a truststore.

    Controls: ``chain`` (Dropdown of the captured chains), ``path`` and ``password`` (load
    another truststore: a file, a directory or "system"), ``hostname`` (blank: the SNI),
    ``cn_fallback`` (accept a name found only in the subject CN). Any
    change re-judges the chain at its capture time. ``value`` is the current ChainVerdict,
    ``frame`` the per-certificate comparison (CERT_COMPARISON columns), ``truststore`` the
    loaded store, ``error`` the last load error (or None). Display the view itself, or
    ``view.widget``.

    Parameters
    ----------
    source: a Capture, its ``certificates`` table, or one chain as a list of DER/PEM bytes.
    truststore: a Truststore, or a path to load (with ``password``).
    hostname: the host name to check instead of the SNI.
    at: judge validity at this moment instead of the capture time (required for bare chains).
    on_change: called with the new ChainVerdict after every change.
    plot: draw the chain picture below the table (needs matplotlib).
    cn_fallback: start with the "accept a CN-only name" box ticked (see verify_chain).
    """

    def __init__(
        self,
        source: Any,
        *,
        truststore: Truststore | str | Path | None = None,
        password: str | None = None,
        hostname: str | None = None,
        at: datetime | None = None,
        on_change: Callable[[ChainVerdict], None] | None = None,
        plot: bool = True,
        cn_fallback: bool = False,
    ) -> None:
        import ipywidgets as w  # lazily: import tlskit must not need ipywidgets

        self._chains: list[CapturedChain] = list(captured_chains(source, at=at))
        if not self._chains:
            raise TlskitError("no certificate chain in this input",
                              fix="a TLS 1.3 chain is encrypted: load the capture with keylog=")
        self._at = at
        self._on_change = on_change
        self._plot = plot
        self.truststore: Truststore | None = truststore if isinstance(truststore, Truststore) else None
        self.error: str | None = None
        self.value: ChainVerdict | None = None
        self.frame: pd.DataFrame = pd.DataFrame()

        self.chain = w.Dropdown(options=[(self._label(c), i) for i, c in enumerate(self._chains)], value=0,
                                description="Chain", layout=w.Layout(width="60%"))
        self.path = w.Text(value=str(truststore) if isinstance(truststore, (str, Path)) else "",
                           placeholder="truststore file, directory, or 'system'", description="Truststore",
                           continuous_update=False, layout=w.Layout(width="60%"))
        self.password = w.Password(value=password or "", description="Password", continuous_update=False)
        self.hostname = w.Text(value=hostname or "", placeholder="(the SNI)", description="Host name",
                               continuous_update=False)
        self.cn_fallback = w.Checkbox(value=cn_fallback, description="Accept a CN-only name (Java, curl)",
                                      indent=False)
        self.status = w.HTML()
        self.table = w.HTML()
        self.figure = w.Output()
        for control in (self.path, self.password):
            control.observe(self._reload, names="value")
        for control in (self.chain, self.hostname, self.cn_fallback):
            control.observe(self._refresh, names="value")
        self.widget = w.VBox([self.chain, w.HBox([self.path, self.password]), w.HBox([self.hostname, self.cn_fallback]),
                              self.status, self.table, self.figure])
        if self.path.value:
            self._reload()
        else:
            self._refresh()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    @staticmethod
    def _label(c: CapturedChain) -> str:
        where = f"conn {c.conn_id} {c.side}" if c.conn_id is not None else "chain"
        host = f" ({c.hostname})" if c.hostname else ""
        return f"{where}{host}: {len(c.ders)} certificate{'s' if len(c.ders) != 1 else ''}"

    def _reload(self, _change: Any = None) -> None:
        path = self.path.value.strip()
        self.error = None
        if path:
            try:
                self.truststore = load_truststore(path, password=self.password.value or None)
            except TlskitError as exc:
                self.truststore = None
                self.error = str(exc)
        else:
            self.truststore = None
        self._refresh()

    def _refresh(self, _change: Any = None) -> None:
        ch = self._chains[self.chain.value]
        host = self.hostname.value.strip() or ch.hostname
        if ch.at is None:
            self.error = "no capture time for this chain: pass at="
            self.status.value = f"<b style='color:#c62828'>{html.escape(self.error)}</b>"
            return
        v = verify_chain(list(ch.ders), truststore=self.truststore, hostname=host, at=ch.at, side=ch.side,
                         cn_fallback=self.cn_fallback.value)
        self.value = v
        judged = CapturedChain(ch.conn_id, ch.side, ch.ders, ch.at, host)
        from tlskit.certs import CERT_COMPARISON

        self.frame = conform(chain_rows(judged, v, self.truststore), CERT_COMPARISON)
        self.status.value = self._status_html(v)
        self.table.value = self.frame[SHOWN].to_html(index=False, na_rep="—", escape=True)
        if self._plot:
            self._draw(ch, v)
        if self._on_change is not None:
            self._on_change(v)

    def _status_html(self, v: ChainVerdict) -> str:
        colour = VERDICT_COLOURS.get(v.verdict, "#c62828")
        store = (f"{html.escape(self.truststore.source)} ({len(self.truststore)} certificates)"
                 if self.truststore is not None else "none (structure only)")
        err = f"<div style='color:#c62828'>{html.escape(self.error)}</div>" if self.error else ""
        return (
            f"{err}<div><b style='color:{colour}'>{html.escape(v.verdict)}</b> — "
            f"{html.escape(v.openssl_message)}</div><div>{html.escape(v.explanation)}</div>"
            f"<div><i>Fix:</i> {html.escape(v.remedy)}</div><div><small>truststore: {store}; judged at "
            f"{v.at:%Y-%m-%d %H:%M:%S} UTC</small></div>"
        )

    def _draw(self, ch: CapturedChain, v: ChainVerdict) -> None:
        import matplotlib.pyplot as plt

        from tlskit.plot.chain import chain as draw_chain

        self.figure.clear_output(wait=True)
        with self.figure:
            ax = draw_chain(list(ch.ders), truststore=self.truststore, at=ch.at, hostname=v.hostname, verdict=v)
            from IPython.display import display

            fig = ax.get_figure(root=True)
            display(fig)
            plt.close(fig)
