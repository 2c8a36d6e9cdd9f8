"""The lab's scenarios: what each peer is configured to do, and the answer an analyst should reach.

A scenario is data. ``client`` and ``server`` say how each real TLS stack is set up (versions,
cipher string, groups, which certificate, SNI policy, client authentication); the expected
``alert`` and ``alert_from`` are what that stack does in that situation, as documented for
OpenSSL 3.0 and JSSE 17. The builder (:func:`tlskit.lab.build`) runs the stacks and records
whatever they really send; the lab tests check the capture against these expectations.

The client plays the Apigee message processor's role (the side that calls a backend); the
server plays the backend (or, for inbound traffic, the Edge router). ``fault`` names the side
whose configuration should change.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

Stack = Literal["openssl", "java", "s_server"]

HOST = "api.backend.example"

ServerCert = Literal["good", "wrong_name", "wildcard", "cn_only", "expired", "not_yet_valid",
                     "self_signed", "other_ca", "rsa"]
ClientCert = Literal["good", "untrusted", "expired"]


@dataclass(frozen=True)
class ClientSpec:
    """How the calling side is configured."""

    stack: Stack = "openssl"
    min_version: str = "TLSv1.2"
    max_version: str = "TLSv1.3"
    ciphers: str | None = None  # OpenSSL cipher string (TLS <= 1.2); None: the stack's default
    groups: str | None = None  # a single named group (key exchange); None: default list
    send_sni: bool = True
    certificate: ClientCert | None = None  # presented when the server asks
    cn_fallback: bool = True  # accept a CN-only certificate for the host name (OpenSSL's default)
    connections: int = 1  # 2: connect again resuming the first session


@dataclass(frozen=True)
class ServerSpec:
    """How the answering side is configured."""

    stack: Stack = "openssl"
    min_version: str = "TLSv1.2"
    max_version: str = "TLSv1.3"
    ciphers: str | None = None
    tls13_suites: str | None = None  # OpenSSL -ciphersuites list (s_server only)
    groups: str | None = None
    certificate: ServerCert = "good"
    send_intermediate: bool = True
    sni: Literal["ignore", "require", "known_only", "warn"] = "ignore"
    client_auth: bool = False


@dataclass(frozen=True)
class Scenario:
    """One lab case and its answer key.

    Attributes
    ----------
    name, description : str
    cause : str
        The expected diagnosis, from :data:`tlskit.schema.CAUSES`.
    fault : {"client", "server"} or None
        Side whose configuration should change (None for a success).
    tls_version : str
        Version negotiated, or attempted by the side that gave up.
    alert, alert_from : str or None
        First fatal alert (IANA name) and its sender; None when none is sent in the clear or at
        all (a reset, a success). In TLS 1.3 an alert after ServerHello is encrypted:
        ``alert_encrypted``. ``warning`` is a warning-level alert (name, sender) sent earlier.
    fix : str
        The remedy in words, naming the side.
    """

    name: str
    description: str
    cause: str
    fault: Literal["client", "server"] | None
    tls_version: str
    alert: str | None
    alert_from: Literal["client", "server"] | None
    fix: str
    client: ClientSpec = field(default_factory=ClientSpec)
    server: ServerSpec = field(default_factory=ServerSpec)
    hostname: str = HOST
    alert_encrypted: bool = False
    warning: tuple[str, Literal["client", "server"]] | None = None  # a warning alert before it
    middlebox_rst: bool = False
    hello_retry_request: bool = False  # the server is set up to answer with an HRR
    ipv6: bool = False

    @property
    def stack(self) -> str:
        """Client stack → server stack, e.g. ``java → openssl``."""
        return f"{self.client.stack} → {self.server.stack}"

    @property
    def needs_java(self) -> bool:
        return "java" in (self.client.stack, self.server.stack)

    @property
    def established(self) -> bool:
        return self.cause == "ok"


def _cli(version: str, **kw: Any) -> ClientSpec:
    """A client pinned to one version, so the case shows what it names."""
    return ClientSpec(min_version=version, max_version=version, **kw)


def _srv(version: str, **kw: Any) -> ServerSpec:
    return ServerSpec(min_version=version, max_version=version, **kw)


_T12, _T13 = "TLSv1.2", "TLSv1.3"
_FIX_TRUST = ("Server: send the full chain (leaf and intermediates) in its certificate "
              "configuration.")


def _cases() -> list[Scenario]:
    s: list[Scenario] = []

    # --- successes -------------------------------------------------------------------------
    for ver in (_T12, _T13):
        tag = ver[-3:].replace(".", "")
        s.append(Scenario(
            f"ok_tls{tag}", f"A successful {ver} handshake and one HTTP request.", "ok", None, ver,
            None, None, "Nothing to fix.", _cli(ver), ServerSpec()))
        s.append(Scenario(
            f"ok_resumption_tls{tag}",
            f"Two {ver} connections; the second resumes the first session "
            f"({'ticket' if ver == _T12 else 'PSK from a NewSessionTicket'}).",
            "ok", None, ver, None, None, "Nothing to fix.",
            _cli(ver, connections=2), ServerSpec()))
        s.append(Scenario(
            f"ok_mtls_tls{tag}", f"Two-way {ver}: the server asks for and accepts a client certificate.",
            "ok", None, ver, None, None, "Nothing to fix.",
            _cli(ver, certificate="good"), ServerSpec(client_auth=True)))
    s.append(Scenario(
        "ok_hrr_tls13",
        "TLS 1.3 with a HelloRetryRequest: the client's key share is X25519, the server only "
        "takes secp384r1 and asks again. Over IPv6.",
        "ok", None, _T13, None, None, "Nothing to fix (one extra round trip).",
        _cli(_T13), ServerSpec(groups="secp384r1"), hello_retry_request=True, ipv6=True))

    # --- protocol ----------------------------------------------------------------------------
    s.append(Scenario(
        "protocol_old_server",
        "A backend that speaks only TLS 1.0/1.1 answers a client that speaks only TLS 1.2 (no "
        "supported_versions extension): the server picks TLS 1.1 and the client refuses it.",
        "protocol_mismatch", "server", "TLSv1.1", "protocol_version", "client",
        "Server: enable TLS 1.2 (nginx `ssl_protocols TLSv1.2 TLSv1.3;`), or, as a stopgap, allow "
        "TLS 1.1 in the client's <SSLInfo><Protocols>.",
        _cli(_T12), ServerSpec(min_version="TLSv1", max_version="TLSv1.1",
                                           ciphers="DEFAULT", certificate="rsa")))
    s.append(Scenario(
        "protocol_old_server_tls13_client",
        "The same TLS 1.0/1.1 backend called by a TLS 1.2/1.3 client: the ClientHello lists its "
        "versions in supported_versions, none of which the server has, so the server refuses.",
        "protocol_mismatch", "server", "TLSv1.1", "protocol_version", "server",
        "Server: enable TLS 1.2 or 1.3 (nginx `ssl_protocols TLSv1.2 TLSv1.3;`).",
        ClientSpec(), ServerSpec(min_version="TLSv1", max_version="TLSv1.1", ciphers="DEFAULT",
                                 certificate="rsa")))
    s.append(Scenario(
        "protocol_old_client",
        "A client capped at TLS 1.1 calls a modern server that requires TLS 1.2: the server "
        "refuses the ClientHello.",
        "protocol_mismatch", "client", "TLSv1.1", "protocol_version", "server",
        "Client: allow TLS 1.2 (Apigee <SSLInfo><Protocols><Protocol>TLSv1.2</Protocol>; Java: "
        "-Djdk.tls.client.protocols=TLSv1.2,TLSv1.3).",
        ClientSpec(min_version="TLSv1", max_version="TLSv1.1", ciphers="DEFAULT"), ServerSpec()))

    # --- cipher suites / groups --------------------------------------------------------------
    s.append(Scenario(
        "cipher_mismatch_tls12",
        "TLS 1.2: the client offers only ECDHE AES-GCM suites; the backend accepts only the "
        "legacy RSA key exchange suite AES256-SHA. No suite in common.",
        "cipher_mismatch", "server", _T12, "handshake_failure", "server",
        "Server: enable an ECDHE AES-GCM suite (nginx `ssl_ciphers ECDHE-RSA-AES128-GCM-SHA256:...;`), "
        "or add one the server supports to the client's <SSLInfo><Ciphers>.",
        _cli(_T12, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                   "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"),
        _srv(_T12, ciphers="AES256-SHA", certificate="rsa")))
    s.append(Scenario(
        "cipher_mismatch_tls13_groups",
        "TLS 1.3: the client offers only X25519 for key exchange; the server accepts only "
        "secp384r1. No group in common, so no key can be agreed.",
        "cipher_mismatch", "server", _T13, "handshake_failure", "server",
        "Server: accept X25519 or secp256r1 (nginx `ssl_ecdh_curve X25519:prime256v1:secp384r1;`), "
        "or let the client offer secp384r1.",
        _cli(_T13, groups="X25519"), _srv(_T13, groups="secp384r1")))

    # --- server certificate ------------------------------------------------------------------
    for ver in (_T12, _T13):
        tag = ver[-3:].replace(".", "")
        # OpenSSL 3 switches its write keys only when it sends its own flight, so a TLS 1.3
        # client that rejects the server's certificate sends its alert in the clear (JSSE
        # encrypts it).
        enc = False
        s.append(Scenario(
            f"hostname_mismatch_tls{tag}",
            f"{ver}: the server's certificate names other.backend.example, not {HOST}.",
            "hostname_mismatch", "server", ver, "bad_certificate", "client",
            f"Server: install a certificate whose subjectAltName includes {HOST} (or call the "
            "server by a name its certificate has).",
            _cli(ver), ServerSpec(certificate="wrong_name"), alert_encrypted=enc))
        s.append(Scenario(
            f"incomplete_chain_tls{tag}",
            f"{ver}: the server sends its leaf certificate without the intermediate; the client "
            "trusts only the root and cannot build the path.",
            "incomplete_chain", "server", ver, "unknown_ca", "client", _FIX_TRUST,
            _cli(ver), ServerSpec(send_intermediate=False), alert_encrypted=enc))
        s.append(Scenario(
            f"unknown_ca_tls{tag}",
            f"{ver}: the server's chain ends at a root the client's truststore does not hold.",
            "unknown_ca", "client", ver, "unknown_ca", "client",
            "Client: import the server's root CA into the truststore (Apigee: upload it to the "
            "truststore the <SSLInfo><TrustStore> reference names).",
            _cli(ver), ServerSpec(certificate="other_ca"), alert_encrypted=enc))
        s.append(Scenario(
            f"expired_tls{tag}",
            f"{ver}: the server's certificate expired 35 days before the capture.",
            "expired_certificate", "server", ver, "certificate_expired", "client",
            "Server: renew the certificate and install the new one with its chain.",
            _cli(ver), ServerSpec(certificate="expired"), alert_encrypted=enc))
    s.append(Scenario(
        "hostname_wildcard_tls12",
        "TLS 1.2: the certificate is for *.example.com, which does not cover the two-label "
        "name api.eu.example.com (a wildcard matches one label).",
        "hostname_mismatch", "server", _T12, "bad_certificate", "client",
        "Server: add api.eu.example.com (or *.eu.example.com) to the certificate's subjectAltName.",
        _cli(_T12), ServerSpec(certificate="wildcard"), hostname="api.eu.example.com"))
    s.append(Scenario(
        "hostname_cn_only_tls13",
        f"TLS 1.3: the certificate carries {HOST} only in its subject CN, with no subjectAltName; "
        "a client that, like browsers and Go, ignores the CN rejects it.",
        "hostname_mismatch", "server", _T13, "bad_certificate", "client",
        f"Server: reissue the certificate with subjectAltName DNS:{HOST}.",
        _cli(_T13, cn_fallback=False), ServerSpec(certificate="cn_only")))
    for ver in (_T12, _T13):
        tag = ver[-3:].replace(".", "")
        s.append(Scenario(
            f"self_signed_tls{tag}",
            f"{ver}: the server presents a self-signed certificate the client does not trust.",
            "unknown_ca", "server", ver, "unknown_ca", "client",
            "Server: install a certificate issued by a CA the clients trust (or, if intended, "
            "import this certificate into the client's truststore).",
            _cli(ver), ServerSpec(certificate="self_signed")))
        s.append(Scenario(
            f"not_yet_valid_tls{tag}",
            f"{ver}: the server's certificate becomes valid 7 days after the capture (a clock or "
            "issuance mistake).",
            "expired_certificate", "server", ver, "bad_certificate", "client",
            "Server: install a certificate whose validity has started (check the issuing host's "
            "clock).",
            _cli(ver), ServerSpec(certificate="not_yet_valid")))

    # --- SNI ---------------------------------------------------------------------------------
    for ver in (_T12, _T13):
        tag = ver[-3:].replace(".", "")
        s.append(Scenario(
            f"sni_missing_tls{tag}",
            f"{ver}: the client sends no server_name; the SNI-enabled server refuses the handshake.",
            "sni_missing", "client", ver, "handshake_failure", "server",
            "Client: send SNI (Apigee message processor: conf_system_jsse.enableSNIExtension=true; "
            "call the backend by host name, not IP).",
            _cli(ver, send_sni=False), ServerSpec(sni="require")))
        s.append(Scenario(
            f"sni_unrecognized_tls{tag}",
            f"{ver}: the client asks for a name the server does not serve; the server answers "
            "with a fatal unrecognized_name.",
            "sni_unrecognized", "client", ver, "unrecognized_name", "server",
            f"Client: call the server by a name it serves (or add {HOST} to the server's "
            "server_name list).",
            _cli(ver), ServerSpec(sni="known_only")))

    # --- two-way TLS ---------------------------------------------------------------------------
    for ver in (_T12, _T13):
        tag = ver[-3:].replace(".", "")
        late = ver == _T13  # a TLS 1.3 server judges the client certificate after its own Finished
        s.append(Scenario(
            f"mtls_missing_tls{tag}",
            f"{ver}: the server requires a client certificate and the client sends none.",
            "client_certificate", "client", ver,
            "certificate_required" if late else "handshake_failure", "server",
            "Client: configure a keystore with the client certificate and key (Apigee: "
            "<SSLInfo><KeyStore> and <KeyAlias>, ClientAuthEnabled=true).",
            _cli(ver), ServerSpec(client_auth=True), alert_encrypted=late))
        s.append(Scenario(
            f"mtls_untrusted_tls{tag}",
            f"{ver}: the client's certificate is issued by a CA the server does not trust.",
            "client_certificate", "client", ver, "unknown_ca", "server",
            "Client: use a certificate from a CA the server trusts, or server: add the client's "
            "CA to its client-CA list (nginx ssl_client_certificate).",
            _cli(ver, certificate="untrusted"), ServerSpec(client_auth=True),
            alert_encrypted=late))
        s.append(Scenario(
            f"mtls_expired_tls{tag}",
            f"{ver}: the client's certificate has expired.",
            "client_certificate", "client", ver, "certificate_expired", "server",
            "Client: renew the client certificate and update the keystore alias.",
            _cli(ver, certificate="expired"), ServerSpec(client_auth=True),
            alert_encrypted=late))

    # --- TCP ---------------------------------------------------------------------------------
    s.append(Scenario(
        "tcp_reset_after_client_hello",
        "A middlebox (firewall, load balancer) resets the connection right after the "
        "ClientHello; no TLS alert is ever sent.",
        "connection_reset", "server", _T13, None, None,
        "Network/server side: find the device that resets (its RST has a different TTL than the "
        "server's packets) and allow the TLS traffic, or fix the backend listener.",
        ClientSpec(), ServerSpec(), middlebox_rst=True))

    s.extend(_java_cases())
    return s


def _java_cases() -> list[Scenario]:
    jc = ClientSpec(stack="java")
    out = [
        Scenario(
            "java_ok_tls13", "A Java (JSSE) client, in the message processor's role, calls an "
            "OpenSSL backend over TLS 1.3.", "ok", None, _T13, None, None, "Nothing to fix.",
            jc, ServerSpec()),
        Scenario(
            "java_ok_tls12", "A Java client calls an OpenSSL backend over TLS 1.2.", "ok", None, _T12,
            None, None, "Nothing to fix.", replace(jc, min_version=_T12, max_version=_T12), ServerSpec()),
        Scenario(
            "java_hostname_mismatch_tls12",
            "A Java client finds a certificate for another name; JSSE reports every path or "
            "name failure as certificate_unknown.",
            "hostname_mismatch", "server", _T12, "certificate_unknown", "client",
            f"Server: install a certificate whose subjectAltName includes {HOST}.",
            replace(jc, min_version=_T12, max_version=_T12), ServerSpec(certificate="wrong_name")),
        Scenario(
            "java_unknown_ca_tls13", "A Java client does not trust the server's root: "
            "certificate_unknown (PKIX path building failed).",
            "unknown_ca", "client", _T13, "certificate_unknown", "client",
            "Client: import the server's root CA into the message processor's truststore.",
            jc, ServerSpec(certificate="other_ca"), alert_encrypted=True),
        Scenario(
            "java_incomplete_chain_tls12", "A Java client gets a leaf without its intermediate: "
            "certificate_unknown (PKIX path building failed).",
            "incomplete_chain", "server", _T12, "certificate_unknown", "client", _FIX_TRUST,
            replace(jc, min_version=_T12, max_version=_T12), ServerSpec(send_intermediate=False)),
        Scenario(
            "java_sni_missing_tls12",
            "A Java client run with -Djsse.enableSNIExtension=false calls an SNI-enabled server, "
            "which refuses the handshake (the guide's case).",
            "sni_missing", "client", _T12, "handshake_failure", "server",
            "Client: set jsse.enableSNIExtension=true (Apigee: conf_system_jsse.enableSNIExtension=true).",
            replace(jc, min_version=_T12, max_version=_T12, send_sni=False), ServerSpec(sni="require")),
        Scenario(
            "java_sni_warning_tls12",
            "An OpenSSL s_server that does not know the requested name sends a warning-level "
            "unrecognized_name and carries on; the Java client treats the warning as fatal and "
            "sends handshake_failure itself.",
            "sni_unrecognized", "server", _T12, "handshake_failure", "client",
            f"Server: add {HOST} to its server names (or stop sending the unrecognized_name "
            "warning); a Java client cannot ignore it.",
            replace(jc, min_version=_T12, max_version=_T12), ServerSpec(stack="s_server", sni="warn"),
            warning=("unrecognized_name", "server")),
        Scenario(
            "java_protocol_old_server",
            "A Java 17 client (TLS 1.0/1.1 disabled in java.security) calls a backend that speaks "
            "only TLS 1.0/1.1.",
            "protocol_mismatch", "server", "TLSv1.1", "protocol_version", "server",
            "Server: enable TLS 1.2.",
            jc, ServerSpec(min_version="TLSv1", max_version="TLSv1.1", ciphers="DEFAULT",
                           certificate="rsa")),
        Scenario(
            "java_mtls_ok_tls12", "Two-way TLS 1.2 from a Java client with a PKCS12 keystore "
            "(the message processor's <KeyStore>/<KeyAlias>) to an OpenSSL backend.",
            "ok", None, _T12, None, None, "Nothing to fix.",
            replace(jc, min_version=_T12, max_version=_T12, certificate="good"),
            ServerSpec(client_auth=True)),
        Scenario(
            "cipher_mismatch_tls13",
            "TLS 1.3: a constrained backend (openssl s_server) offers only TLS_AES_128_CCM_SHA256, "
            "which JSSE does not implement; the Java client offers the AES-GCM and ChaCha20 suites.",
            "cipher_mismatch", "server", _T13, "handshake_failure", "server",
            "Server: enable TLS_AES_128_GCM_SHA256 or TLS_AES_256_GCM_SHA384 (nginx "
            "`ssl_conf_command Ciphersuites TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384;`).",
            replace(jc, min_version=_T13, max_version=_T13),
            _srv(_T13, stack="s_server", tls13_suites="TLS_AES_128_CCM_SHA256")),
        Scenario(
            "java_server_mtls_missing_tls12",
            "An OpenSSL client without a certificate calls a Java server that requires one; "
            "JSSE answers bad_certificate.",
            "client_certificate", "client", _T12, "bad_certificate", "server",
            "Client: configure the client certificate and key.",
            _cli(_T12), ServerSpec(stack="java", client_auth=True)),
    ]
    return out


SCENARIOS: dict[str, Scenario] = {sc.name: sc for sc in _cases()}
"""Every scenario by name, in a stable order."""
