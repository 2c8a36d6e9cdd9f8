"""Evidence items: the facts behind a decision, as sentences that name frames, certificates,
names and times.

Each item name used in a rule's ``evidence`` maps to a function choosing the catalogue key
(``evidence.<key>``) that fits the connection, or None when the item does not apply (no
ServerHello to quote, no truststore given...). Sentences are filled from the connection's
facts by :func:`params`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tlskit.diagnose.facts import Facts
from tlskit.i18n import text

LIST_LIMIT = 8  # long suite lists are cut to this many names and a count
# Distinguished names hold commas: quote them so a list of them stays readable.
DN_KEYS = frozenset({"top_subject", "missing_issuer", "expired_subject", "client_leaf_subject",
                     "server_leaf_subject", "server_chain_subjects", "client_chain_subjects"})


def _join(items: Any, lang: str) -> str:
    seq = [str(x) for x in items]
    if not seq:
        return text("word.none", lang)
    if len(seq) > LIST_LIMIT:
        return ", ".join(seq[:LIST_LIMIT]) + text("word.and_more", lang, n=len(seq))
    return ", ".join(seq)


def params(facts: Facts, lang: str) -> dict[str, Any]:
    """Template fields for one connection: lists joined, sides and states translated."""
    out: dict[str, Any] = {}
    left, right = text("word.quote_open", lang), text("word.quote_close", lang)
    for key, value in facts.values.items():
        if value is None:
            continue
        if key in DN_KEYS:
            value = [f"{left}{x}{right}" for x in value] if isinstance(value, (list, tuple)) else f"{left}{value}{right}"
        out[key] = _join(value, lang) if isinstance(value, (list, tuple)) else value
    for key in ("alert_from", "tcp_end_by"):
        if facts.values.get(key) in ("client", "server"):
            out[f"{key}_text"] = text(f"side.{facts.values[key]}", lang)
    if facts.values.get("name_source"):
        out["name_source_text"] = text(f"name_source.{facts.values['name_source']}", lang)
    if facts.values.get("expired_state"):
        out["expired_state_text"] = text(f"state.{facts.values['expired_state']}", lang)
    if not facts.values.get("versions_listed") and facts.values.get("client_max_version"):
        # No supported_versions: the ClientHello names only its highest version.
        out["offered_versions"] = text("word.up_to", lang, version=facts.values["client_max_version"])
    out.setdefault("version", text("word.unknown_version", lang))
    out.setdefault("cipher", text("word.unknown_cipher", lang))
    out["at"] = out.get("expired_at") or out.get("server_at") or out.get("client_at") or "?"
    name = str(facts.values.get("name") or "")
    out["parent"] = name.partition(".")[2] or name
    out.setdefault("name_or_host", name or "host")
    return out


def _when(flag: str, key: str) -> Callable[[Facts], str | None]:
    return lambda f: key if f.has(flag) else None


def _client_hello(f: Facts) -> str | None:
    if not f.has("client_hello"):
        return None
    return "client_hello_sni" if f.has("sni_sent") else "client_hello_nosni"


def _server_hello(f: Facts) -> str | None:
    if f.has("server_hello"):
        if not f.values.get("version"):
            return None
        return "server_hello" if f.values.get("cipher") else "server_hello_version"
    return "no_server_hello" if f.has("no_server_hello") else None


def _truststore(f: Facts) -> str | None:
    if not f.has("truststore_given"):
        return "truststore_none"
    if f.values.get("truststore_explanation") and not f.has("chain_trusted"):
        return "truststore_verdict"
    if f.has("truststore_lacks_issuer"):
        return "truststore_lacks"
    return "truststore_trusts" if f.has("chain_trusted") else None


def _client_cert(f: Facts) -> str | None:
    if f.has("client_cert_empty"):
        return "client_cert_empty"
    return "client_cert_sent" if f.has("client_cert_sent") else None


def _tls13(f: Facts) -> str | None:
    if f.values.get("client_record_len"):
        return "tls13_no_finished"
    if f.has("tls13_client_aborted"):
        return "tls13_client_aborted"
    return "tls13_server_aborted" if f.has("tls13_server_aborted") else None


def _server_chain(f: Facts) -> str | None:
    if not f.has("server_chain_seen"):
        return "hidden_chain"
    return "server_chain_silent" if f.values.get("silent_close") else "server_chain"


def _close(f: Facts) -> str | None:
    if not f.has("server_closed_after_hello"):
        return None
    return "close_notify" if f.values.get("close_frame") else "close_fin"


def _expired(f: Facts) -> str | None:
    return "expired" if f.values.get("expired_subject") else None


ITEMS: dict[str, Callable[[Facts], str | None]] = {
    "client_hello": _client_hello,
    "server_hello": _server_hello,
    "alert": lambda f: "alert" if f.values.get("alert") else None,
    "established": _when("established", "established"),
    "resumed": _when("resumed", "resumed"),
    "hrr": _when("hello_retry_request", "hrr"),
    "sni": lambda f: "sni_sent" if f.has("sni_sent") else "sni_absent",
    "config_versions": _when("config_given", "config_versions"),
    "config_names": lambda f: "config_names" if f.values.get("config_server_names") else None,
    "config_sni": _when("config_sni_required", "config_sni"),
    "config_ciphers": lambda f: "config_ciphers" if "config_common" in f.values else None,
    "peer_sni": _when("peer_sni_accepted", "peer_sni"),
    "peer_ciphers": lambda f: "peer_ciphers" if f.values.get("peer_selected") else None,
    "offered_ciphers": lambda f: "offered_ciphers" if f.values.get("offered_cipher_names") else None,
    "weak_ciphers": _when("offered_only_weak", "weak_ciphers"),
    "offered_groups": lambda f: "offered_groups" if f.values.get("offered_groups") else None,
    "server_chain": _server_chain,
    "chain_peer": _when("chain_from_peer", "chain_peer"),
    "hidden_chain": lambda f: None if f.has("server_chain_seen") else "hidden_chain",
    "expired": _expired,
    "name": lambda f: "name" if f.has("name_known") and f.values.get("leaf_names") is not None else None,
    "self_signed": lambda f: None if not f.has("chain_self_signed") else (
        "self_issued_forged" if f.values.get("root_forged") else "self_signed"),
    "missing_issuer": lambda f: "missing_issuer" if f.has("chain_gap") else None,
    "gap_ca": _when("chain_gap_ca", "gap_ca"),
    "truststore": _truststore,
    "cert_request": lambda f: "cert_request" if f.values.get("cert_request_frame") else None,
    "client_cert": _client_cert,
    "tls13_pattern": _tls13,
    "keylog": _when("tls13_hidden", "keylog"),
    "cn_only": _when("name_cn_only", "cn_only"),
    "sni_warning": _when("server_warned_unrecognized_name", "sni_warning"),
    "mainstream": _when("offered_mainstream", "mainstream"),
    "settle_sni": lambda f: "settle_sni",
    "alert_meaning": lambda f: f"alert_meaning_{f.values['alert']}" if f.values.get("alert") in (
        "unknown_ca", "bad_certificate", "certificate_unknown") else None,
    "close": _close,
    "reset": lambda f: None if not f.has("reset") else ("reset_side" if f.values.get("tcp_end_by") else "reset"),
    "partial": _when("partial", "partial"),
    "notes": lambda f: "notes" if f.values.get("notes") else None,
    "capture_ended": _when("capture_ended", "capture_ended"),
}


def render(facts: Facts, names: tuple[str, ...], lang: str) -> list[str]:
    """Evidence sentences for the items ``names`` that apply to this connection."""
    fields = params(facts, lang)
    out: list[str] = []
    for name in names:
        key = ITEMS[name](facts)
        if key is not None:
            sentence = text(f"evidence.{key}", lang, **fields)
            if sentence not in out:
                out.append(sentence)
    return out
