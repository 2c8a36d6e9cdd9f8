"""CipherExplorer: pick a connection, pick or paste a server configuration, see the overlap."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tlskit import registry
from tlskit.ciphers import (
    Comparison,
    ServerConfig,
    compare_ciphers,
    compare_groups,
    compare_protocols,
    read_server_config,
)
from tlskit.ciphers.compare import Side, as_side
from tlskit.errors import TlskitError

PASTE = "(paste below)"
SHOWN = ["name", "openssl_name", "java_name", "strength", "offered", "supported", "common", "usable"]
COLOURS = {"ok": "#2e7d32", "weak_only": "#e67e22"}


@dataclass(frozen=True)
class ExplorerValue:
    """What the explorer shows: the client side, the (edited) server config and both comparisons."""

    conn_id: int | None
    config: ServerConfig | None
    ciphers: Comparison | None
    protocols: Comparison | None
    error: str | None = None
    groups: Comparison | None = None


class CipherExplorer:
    """An ipywidgets view of offered vs supported suites and versions, with what-if toggles.

    Controls: ``connection`` (Dropdown of the capture's connections with a ClientHello),
    ``preset`` (Dropdown of named configurations, or PASTE), ``text`` (pasted nginx /
    Apigee SSLInfo / java.security / OpenSSL cipher string), ``versions`` (what-if: versions
    the server enables), ``enable`` (what-if: offered suites to enable on the server),
    ``disable`` (what-if: server suites to turn off). Any change recompares. ``value`` is an
    ExplorerValue; display the view itself or ``view.widget``.

    Parameters
    ----------
    capture : a Capture (or its connections frame) whose ClientHellos are the offers.
    configs : named server configurations (ServerConfig or text read_server_config accepts);
        None: the JSSE defaults of Java 17, 11 and 8.
    offered : instead of a capture, one offer (a connections row, a list of suites or a
        ServerConfig such as an Apigee target <SSLInfo>).
    on_change : called with the new ExplorerValue after every change.
    """

    def __init__(self, capture: Any = None, *, configs: Mapping[str, ServerConfig | str] | None = None,
                 offered: Any = None, on_change: Callable[[ExplorerValue], None] | None = None) -> None:
        import ipywidgets as w  # lazily: import tlskit must not need ipywidgets

        if capture is None and offered is None:
            raise TlskitError("nothing offered", fix="pass a capture or offered=[...suites]")
        self._on_change = on_change
        self._rows: dict[int, Any] = {}
        if capture is not None:
            conns = getattr(capture, "connections", capture)
            for _, row in conns.iterrows():
                if len(row.get("offered_ciphers") or []) > 0:
                    self._rows[int(row["conn_id"])] = row
        if not self._rows and offered is None:  # e.g. a capture of DTLS/QUIC only, or cut before the ClientHello
            path = getattr(capture, "path", None)
            raise TlskitError("no ClientHello with cipher suites in this capture", path=path,
                              fix="pick a capture that holds the handshake, or pass offered=[...suites]")
        self._fixed_offer = offered
        if configs is None:  # something to start from: JSSE servers of each supported release
            from tlskit.ciphers import read_jsse

            configs = {f"Java {v} defaults": read_jsse(v) for v in (17, 11, 8)}
        self._configs: dict[str, ServerConfig | str] = dict(configs)
        options = [(self._label(cid, row), cid) for cid, row in self._rows.items()]
        self.connection = w.Dropdown(options=options or [("(given offer)", -1)], description="connection")
        self.preset = w.Dropdown(options=[*self._configs, PASTE], description="server")
        self.text = w.Textarea(placeholder="nginx server {...}, Apigee <SSLInfo>, java.security, or HIGH:!aNULL",
                               layout=w.Layout(width="100%", height="6em"))
        self.versions = w.SelectMultiple(options=[(registry.version_name(v), v) for v in registry.PROTOCOL_VERSIONS],
                                         description="versions", rows=5)
        self.enable = w.SelectMultiple(options=[], description="enable", rows=6, layout=w.Layout(width="48%"))
        self.disable = w.SelectMultiple(options=[], description="disable", rows=6, layout=w.Layout(width="48%"))
        self.output = w.HTML()
        self.widget = w.VBox([w.HBox([self.connection, self.preset]), self.text,
                              w.HBox([self.versions]), w.HBox([self.enable, self.disable]), self.output])
        self._base: ServerConfig | None = None
        self._busy = False
        self._value = ExplorerValue(None, None, None, None)
        self.connection.observe(self._recompare, names="value")
        for ctl in (self.preset, self.text):
            ctl.observe(self._reload, names="value")
        for ctl in (self.versions, self.enable, self.disable):
            ctl.observe(self._recompare, names="value")
        self._reload()

    # --- state --------------------------------------------------------------------------------

    @property
    def value(self) -> ExplorerValue:
        return self._value

    @staticmethod
    def _label(cid: int, row: Any) -> str:
        sni = row.get("sni")
        sni = "" if sni is None or pd.isna(sni) else f" {sni}"
        alert = row.get("alert_name")
        alert = "" if alert is None or pd.isna(alert) else f" [{alert}]"
        return f"#{cid} {row.get('client_ip')} → {row.get('server_ip')}:{row.get('server_port')}{sni}{alert}"

    def _offer(self) -> Side:
        if self._rows and self.connection.value in self._rows:
            return as_side(self._rows[self.connection.value], "client")
        return as_side(self._fixed_offer, "client")

    def _reload(self, _change: Any = None) -> None:
        """A new server configuration: read it and reset the what-if controls to it."""
        if self._busy:
            return
        error = None
        try:
            choice = self.preset.value
            if choice == PASTE:
                self._base = read_server_config(self.text.value) if self.text.value.strip() else None
            else:
                cfg = self._configs[choice]
                self._base = cfg if isinstance(cfg, ServerConfig) else read_server_config(cfg)
        except TlskitError as exc:
            self._base, error = None, str(exc)
        self._busy = True
        try:
            base = self._base
            self.versions.value = tuple(v for v in registry.PROTOCOL_VERSIONS if base and v in base.versions)
            self.disable.options = [(registry.cipher_suite_name(c), c) for c in (base.all_suites if base else [])]
            self.disable.value = ()
            self.enable.value = ()
        finally:
            self._busy = False
        self._recompare(error=error)

    def _recompare(self, _change: Any = None, *, error: str | None = None) -> None:
        if self._busy:
            return
        cid = self.connection.value if self._rows else None
        try:
            offer = self._offer()
        except TlskitError as exc:
            self._set(ExplorerValue(cid, None, None, None, str(exc)))
            return
        base = self._base
        if base is None:
            self._set(ExplorerValue(cid, None, None, None, error or "choose or paste a server configuration"))
            return
        self._busy = True
        try:  # suites the client offers that the server lacks are the ones worth enabling
            missing = [c for c in offer.suites if c not in base.all_suites]
            keep = tuple(c for c in self.enable.value if c in missing)
            self.enable.options = [(registry.cipher_suite_name(c), c) for c in missing]
            self.enable.value = keep
        finally:
            self._busy = False
        edited = base.with_suites(add=list(self.enable.value), remove=list(self.disable.value)).with_versions(
            self.versions.value)
        groups = None
        if self._rows and self.connection.value in self._rows:
            groups = compare_groups(self._rows[self.connection.value], edited)
        self._set(ExplorerValue(cid, edited, compare_ciphers(offer, edited), compare_protocols(offer, edited), error,
                                groups))

    def _set(self, value: ExplorerValue) -> None:
        self._value = value
        self.output.value = self._html(value)
        if self._on_change is not None:
            self._on_change(value)

    @staticmethod
    def _html(v: ExplorerValue) -> str:
        if v.ciphers is None or v.protocols is None:
            return f'<div style="color:#c0392b">{html.escape(v.error or "")}</div>'
        parts = []
        shown = [("Versions", v.protocols), ("Cipher suites", v.ciphers)]
        if v.groups is not None:
            shown.append(("Groups", v.groups))
        for title, cmp in shown:
            colour = COLOURS.get(cmp.verdict, "#c0392b")
            fix = f"<br><b>Fix ({html.escape(cmp.fix_side or '')}):</b> {html.escape(cmp.fix)}" if cmp.fix else ""
            parts.append(f'<div style="border-left:4px solid {colour};padding:2px 8px;margin:4px 0">'
                         f"<b>{title}: {cmp.verdict}</b> — {html.escape(cmp.summary)}{fix}</div>")
        table = v.ciphers.table[SHOWN].head(40).to_html(index=False, na_rep="")
        return "".join(parts) + table

    def _ipython_display_(self) -> None:  # pragma: no cover - needs a notebook frontend
        from IPython.display import display

        display(self.widget)


__all__ = ["PASTE", "CipherExplorer", "ExplorerValue"]
