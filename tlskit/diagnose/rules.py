"""The rule table: which observed facts point to which cause.

Rules are data. Each :class:`Rule` names the flags (see :data:`tlskit.diagnose.facts.FLAGS`)
that must all hold (``all_of``), of which one must hold (``any_of``) and which must not
(``none_of``); the first rule in :data:`RULES` whose condition holds decides the connection.
Order is precedence: facts that settle a question (an explicit alert, a server configuration,
certificate dates at the capture's time) come before inferences from patterns, and the catch-all
``undetermined`` rules come last. Texts live in the message catalogues (:mod:`tlskit.i18n`)
under ``summary.<id>`` and ``remediation.<remedy>``; ``evidence`` lists the evidence items
(:mod:`tlskit.diagnose.evidence`) quoted for the decision.

To extend: add a flag in ``facts.py`` if the observation is new, add a row here at the right
precedence, its texts in both catalogues, and a test row in tests/diagnose/test_rules.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from tlskit.diagnose.facts import Facts
from tlskit.schema import CAUSES


@dataclass(frozen=True)
class Rule:
    """One row of the table: when its flags hold, ``cause`` with ``confidence``, ``fault``,
    the texts ``summary.<id>`` / ``remediation.<remedy>`` and the ``evidence`` items."""

    id: str
    cause: str
    all_of: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()
    confidence: float = 0.5
    fault: str | None = None  # side whose configuration should change: "client", "server" or None
    remedy: str = ""  # remediation text key
    evidence: tuple[str, ...] = ()
    discount: tuple[tuple[str, float], ...] = ()  # (flag, factor): weaker evidence lowers confidence

    def __post_init__(self) -> None:
        if self.cause not in CAUSES:
            raise ValueError(f"rule {self.id}: cause {self.cause!r} is not in tlskit.schema.CAUSES")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"rule {self.id}: confidence must be within 0..1")

    def confidence_for(self, facts: Facts) -> float:
        """``confidence``, times the factor of each ``discount`` flag the facts hold."""
        value = self.confidence
        for flag, factor in self.discount:
            if facts.has(flag):
                value *= factor
        return round(value, 3)

    def matches(self, facts: Facts) -> bool:
        f = facts.flags
        return (
            all(x in f for x in self.all_of)
            and (not self.any_of or any(x in f for x in self.any_of))
            and not any(x in f for x in self.none_of)
        )


HELLO = ("client_hello", "server_hello", "alert")
CERT = ("client_hello", "server_hello", "server_chain", "chain_peer", "alert")
# A chain seen on another connection to the same server (TLS 1.3 hid this one's) may differ.
PEER_CHAIN = (("chain_from_peer", 0.7),)

RULES: tuple[Rule, ...] = (
    Rule("ok", "ok", all_of=("established",), none_of=("server_alert", "client_alert"), confidence=1.0,
         evidence=("client_hello", "server_hello", "hrr", "resumed", "established")),

    # Protocol version: the alert names it, or the server configuration rules it out.
    Rule("protocol.old_client_alert", "protocol_mismatch", all_of=("server_sent_protocol_version", "offered_only_old"),
         confidence=0.95, fault="client", remedy="protocol_client", evidence=(*HELLO, "config_versions")),
    Rule("protocol.server_alert", "protocol_mismatch", all_of=("server_sent_protocol_version",),
         confidence=0.95, fault="server", remedy="protocol_server", evidence=(*HELLO, "config_versions")),
    Rule("protocol.client_alert", "protocol_mismatch", all_of=("client_sent_protocol_version",),
         confidence=0.9, fault="server", remedy="protocol_server", evidence=HELLO),
    Rule("protocol.config", "protocol_mismatch", all_of=("no_server_hello", "config_no_common_version"),
         any_of=("server_refused", "server_closed_after_hello", "reset"),
         confidence=0.9, fault="server", remedy="protocol_server", evidence=(*HELLO, "config_versions")),

    # SNI: an explicit unrecognized_name, a configuration that needs it, or a peer that shows it.
    Rule("sni.alert_missing", "sni_missing", all_of=("server_sent_unrecognized_name", "no_sni"),
         confidence=0.9, fault="client", remedy="sni_enable", evidence=(*HELLO, "sni")),
    Rule("sni.alert_unrecognized", "sni_unrecognized", all_of=("server_sent_unrecognized_name", "sni_sent"),
         confidence=0.9, fault="client", remedy="sni_name", evidence=(*HELLO, "sni", "config_names")),
    Rule("sni.warning_unrecognized", "sni_unrecognized", all_of=("server_warned_unrecognized_name", "sni_sent"),
         none_of=("client_rejected_cert",),
         confidence=0.85, fault="server", remedy="sni_name", evidence=(*HELLO, "sni", "sni_warning")),
    Rule("sni.config_required", "sni_missing", all_of=("server_refused", "no_sni", "config_sni_required"),
         confidence=0.9, fault="client", remedy="sni_enable", evidence=(*HELLO, "sni", "config_sni")),
    Rule("sni.config_unlisted", "sni_unrecognized", all_of=("server_refused", "sni_sent", "config_sni_unlisted"),
         none_of=("config_no_common_cipher",),
         confidence=0.75, fault="client", remedy="sni_name", evidence=(*HELLO, "sni", "config_names")),
    Rule("sni.peer", "sni_missing", all_of=("server_refused_generic", "no_sni", "peer_sni_accepted", "peer_cipher_offered"),
         none_of=("config_no_common_cipher",),
         confidence=0.85, fault="client", remedy="sni_enable", evidence=(*HELLO, "sni", "peer_sni", "peer_ciphers")),

    # Cipher suites.
    Rule("cipher.config", "cipher_mismatch", all_of=("server_refused", "config_no_common_cipher"),
         confidence=0.95, fault="server", remedy="cipher_server", evidence=(*HELLO, "offered_ciphers", "config_ciphers")),
    Rule("cipher.weak_offer", "cipher_mismatch", all_of=("server_refused_generic", "offered_only_weak"),
         confidence=0.8, fault="client", remedy="cipher_client", evidence=(*HELLO, "weak_ciphers", "sni")),
    Rule("cipher.peer", "cipher_mismatch", all_of=("server_refused_generic", "peer_cipher_not_offered"),
         none_of=("config_common_cipher",),
         confidence=0.7, fault="server", remedy="cipher_server", evidence=(*HELLO, "offered_ciphers", "peer_ciphers", "sni")),
    Rule("sni.config_ciphers_fine", "sni_missing", all_of=("server_refused_generic", "no_sni", "config_common_cipher"),
         confidence=0.7, fault="client", remedy="sni_enable", evidence=(*HELLO, "sni", "config_ciphers")),
    Rule("sni.modern_offer", "sni_missing", all_of=("server_refused_generic", "no_sni", "offered_mainstream"),
         none_of=("config_common_cipher", "config_no_common_cipher"),
         confidence=0.55, fault="client", remedy="sni_enable", evidence=(*HELLO, "sni", "mainstream", "settle_sni")),
    Rule("protocol.old_client", "protocol_mismatch", all_of=("server_refused_generic", "offered_only_old"),
         confidence=0.6, fault="client", remedy="protocol_client", evidence=(*HELLO, "sni")),
    Rule("cipher.sni_sent", "cipher_mismatch", all_of=("server_refused_generic", "sni_sent"),
         none_of=("config_common_cipher", "peer_cipher_offered"),
         confidence=0.6, fault="server", remedy="cipher_server", evidence=(*HELLO, "sni", "offered_ciphers")),
    # Suites in common by the configuration, yet refused: the key-exchange groups (or signature
    # algorithms) did not meet, or the configuration is not what the server runs.
    Rule("cipher.groups", "cipher_mismatch", all_of=("server_refused_generic", "sni_sent", "config_common_cipher"),
         confidence=0.5, fault="server", remedy="groups_server", evidence=(*HELLO, "config_ciphers", "offered_groups")),
    Rule("refused.no_sni", "undetermined", all_of=("server_refused_generic", "no_sni"),
         confidence=0.3, remedy="settle_sni_or_cipher", evidence=(*HELLO, "sni", "offered_ciphers")),

    # The server's certificate, rejected by the client: decided from the certificates, the name
    # and the capture's time, not from the alert (Java sends certificate_unknown for all of them).
    Rule("cert.expired", "expired_certificate", all_of=("client_rejected_cert", "server_cert_expired"),
         confidence=0.95, fault="server", remedy="cert_renew_server", evidence=(*CERT, "expired"), discount=PEER_CHAIN),
    Rule("cert.name", "hostname_mismatch", all_of=("client_rejected_cert", "name_mismatch"),
         confidence=0.9, fault="server", remedy="cert_name", evidence=(*CERT, "name"), discount=PEER_CHAIN),
    Rule("cert.self_signed_leaf", "unknown_ca", all_of=("client_rejected_cert", "chain_untrusted_root", "chain_self_signed_leaf"),
         confidence=0.85, fault="server", remedy="cert_ca_signed", evidence=(*CERT, "self_signed", "truststore"), discount=PEER_CHAIN),
    Rule("cert.self_signed", "unknown_ca", all_of=("client_rejected_cert", "chain_untrusted_root"),
         confidence=0.85, fault="client", remedy="truststore_client", evidence=(*CERT, "self_signed", "truststore"), discount=PEER_CHAIN),
    Rule("cert.incomplete", "incomplete_chain", all_of=("client_rejected_cert", "chain_gap_leaf"),
         confidence=0.8, fault="server", remedy="chain_server", evidence=(*CERT, "missing_issuer", "truststore"), discount=PEER_CHAIN),
    Rule("cert.untrusted_issuer", "unknown_ca", all_of=("client_rejected_cert", "chain_gap_ca", "truststore_lacks_issuer"),
         confidence=0.75, fault="client", remedy="truststore_client", evidence=(*CERT, "missing_issuer", "truststore"), discount=PEER_CHAIN),
    Rule("cert.cn_only", "hostname_mismatch", all_of=("client_rejected_cert", "name_cn_only"),
         confidence=0.7, fault="server", remedy="cert_name", evidence=(*CERT, "name", "cn_only"), discount=PEER_CHAIN),
    # Servers normally omit the root: a chain that stops at an intermediate is complete unless
    # the client lacks that root (or the intermediate's issuer is another intermediate).
    Rule("cert.root_unknown", "unknown_ca", all_of=("client_rejected_cert", "chain_gap_ca"),
         confidence=0.6, fault="client", remedy="truststore_client", evidence=(*CERT, "missing_issuer", "gap_ca", "truststore"), discount=PEER_CHAIN),
    Rule("cert.alert_expired", "expired_certificate", all_of=("client_sent_certificate_expired",),
         none_of=("server_chain_seen",),
         confidence=0.7, fault="server", remedy="cert_renew_server", evidence=(*HELLO, "hidden_chain")),
    Rule("cert.hidden", "undetermined", all_of=("client_rejected_cert",), none_of=("server_chain_seen",),
         confidence=0.3, remedy="settle_keylog", evidence=(*HELLO, "hidden_chain", "alert_meaning", "keylog")),

    # The client's certificate, rejected by the server (mutual TLS).
    Rule("client_cert.missing", "client_certificate", all_of=("cert_requested", "client_cert_empty", "server_alert"),
         confidence=0.9, fault="client", remedy="client_cert_send", evidence=(*HELLO, "cert_request", "client_cert")),
    Rule("client_cert.required", "client_certificate", all_of=("server_sent_certificate_required",),
         confidence=0.9, fault="client", remedy="client_cert_send", evidence=(*HELLO, "client_cert")),
    Rule("client_cert.expired", "client_certificate", all_of=("client_cert_sent", "client_cert_expired", "server_alert"),
         confidence=0.9, fault="client", remedy="cert_renew_client", evidence=(*HELLO, "client_cert", "expired")),
    Rule("client_cert.rejected", "client_certificate", all_of=("client_cert_sent", "server_cert_alert"),
         confidence=0.85, fault="client", remedy="truststore_server", evidence=(*HELLO, "client_cert")),
    Rule("tls13.server_aborted", "client_certificate", all_of=("tls13_server_aborted",),
         confidence=0.5, fault="client", remedy="client_cert_send", evidence=(*HELLO, "tls13_pattern", "keylog")),

    # Certificates hidden by TLS 1.3: say what would settle it.
    Rule("tls13.client_aborted", "undetermined", all_of=("tls13_client_aborted",),
         confidence=0.3, remedy="settle_keylog", evidence=(*HELLO, "tls13_pattern", "keylog")),
    Rule("cert.unexplained", "undetermined", all_of=("client_rejected_cert",),
         confidence=0.3, remedy="settle_truststore", evidence=(*CERT, "truststore"), discount=PEER_CHAIN),

    # No alert: the connection was cut or closed.
    Rule("protocol.close_notify", "protocol_mismatch", all_of=("server_close_notify_after_hello",),
         none_of=("server_alert", "reset"),
         confidence=0.4, fault="server", remedy="protocol_server", evidence=("client_hello", "close")),
    Rule("closed.after_hello", "undetermined", all_of=("server_closed_after_hello",), none_of=("server_alert", "reset"),
         confidence=0.3, remedy="settle_closed", evidence=("client_hello", "close", "sni")),
    Rule("reset.by_server", "connection_reset", all_of=("reset_by_server",), none_of=("server_alert", "client_alert"),
         confidence=0.8, fault="server", remedy="reset", evidence=("client_hello", "server_hello", "reset")),
    Rule("reset.during_handshake", "connection_reset", all_of=("reset",), none_of=("server_alert", "client_alert"),
         confidence=0.7, remedy="reset", evidence=("client_hello", "server_hello", "reset")),

    # Catch-alls.
    Rule("partial.start", "undetermined", all_of=("partial",), none_of=("client_hello",), confidence=0.2,
         remedy="settle_capture", evidence=("server_hello", "alert", "partial")),
    Rule("partial.cut", "undetermined", all_of=("partial",), confidence=0.2, remedy="settle_capture",
         evidence=("client_hello", "server_hello", "alert", "capture_ended", "notes")),
    Rule("capture_ended", "undetermined", all_of=("capture_ended",), confidence=0.2, remedy="settle_capture",
         evidence=("client_hello", "server_hello", "capture_ended")),
    Rule("tls13.hidden", "undetermined", all_of=("tls13_hidden",), confidence=0.2, remedy="settle_keylog",
         evidence=(*HELLO, "keylog")),
    Rule("alert.other", "undetermined", any_of=("server_alert", "client_alert"), confidence=0.3,
         remedy="settle_alert", evidence=HELLO),
    Rule("fallback", "undetermined", confidence=0.1, remedy="settle_capture",
         evidence=("client_hello", "server_hello", "alert", "notes")),
)


def decide(facts: Facts, rules: tuple[Rule, ...] = RULES) -> Rule:
    """The first rule whose condition holds (the table ends with an unconditional rule)."""
    for rule in rules:
        if rule.matches(facts):
            return rule
    return rules[-1]


def rules_table(rules: tuple[Rule, ...] = RULES) -> pd.DataFrame:
    """The rule table as a frame, in precedence order.

    Returns
    -------
    DataFrame with columns ``id``, ``cause``, ``all_of``, ``any_of``, ``none_of``
    (comma-separated flags), ``confidence``, ``fault``, ``remedy``.
    """
    return pd.DataFrame(
        [
            (r.id, r.cause, ", ".join(r.all_of), ", ".join(r.any_of), ", ".join(r.none_of),
             r.confidence, r.fault, r.remedy)
            for r in rules
        ],
        columns=["id", "cause", "all_of", "any_of", "none_of", "confidence", "fault", "remedy"],
    )
