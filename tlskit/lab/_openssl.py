"""Run real OpenSSL handshakes (Python's ``ssl`` module) in memory and record the bytes.

Client and server are two ``SSLObject`` s over ``MemoryBIO`` pairs in one process; the pump
moves each side's output to the other's input and records it in a :class:`Transcript`, with
the close each side would do on a socket (FIN, or RST when it closes with unread bytes, as
the kernel does). Behaviour comes from real OpenSSL settings: version bounds, cipher
strings, groups, ``sni_callback`` returning an alert, ``CERT_REQUIRED`` for client certificates.
"""

from __future__ import annotations

import contextlib
import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path

from tlskit.errors import LabError
from tlskit.lab._pcap import Transcript
from tlskit.lab.scenarios import ClientSpec, Scenario, ServerSpec

_VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1, "TLSv1.0": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1, "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}

REQUEST = b"GET /v1/health HTTP/1.1\r\nHost: %s\r\nUser-Agent: tlskit-lab\r\nAccept: */*\r\n\r\n"
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 16\r\n"
            b"Connection: close\r\n\r\n{\"status\":\"ok\"}\n")


@dataclass(frozen=True)
class PeerFiles:
    """Files a peer's context loads: PEM chain and key (private/), trusted CAs (PEM)."""

    chain: Path | None = None
    key: Path | None = None
    cafile: Path | None = None


def _bounds(ctx: ssl.SSLContext, lo: str, hi: str, ciphers: str | None, groups: str | None) -> None:
    legacy = _VERSIONS[lo] < ssl.TLSVersion.TLSv1_2
    # OpenSSL 3 refuses TLS 1.0/1.1 (SHA-1 signatures) above security level 0.
    cipher_string = ciphers or "DEFAULT"
    if legacy:
        cipher_string += ":@SECLEVEL=0"
    ctx.set_ciphers(cipher_string)
    with warnings.catch_warnings():  # modelling an old peer is the point: no deprecation noise
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = _VERSIONS[lo]
        ctx.maximum_version = _VERSIONS[hi]
    if groups:
        ctx.set_ecdh_curve(groups)  # OpenSSL 3: sets the group list to this one group


def client_context(spec: ClientSpec, files: PeerFiles, keylog: Path | None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _bounds(ctx, spec.min_version, spec.max_version, spec.ciphers, spec.groups)
    ctx.check_hostname = spec.send_sni  # no name to check when none is sent
    ctx.hostname_checks_common_name = spec.cn_fallback
    ctx.verify_mode = ssl.CERT_REQUIRED
    if files.cafile:
        ctx.load_verify_locations(cafile=str(files.cafile))
    if files.chain and files.key:
        ctx.load_cert_chain(str(files.chain), str(files.key))
    if keylog:
        ctx.keylog_filename = str(keylog)
    return ctx


def server_context(spec: ServerSpec, files: PeerFiles, names: tuple[str, ...],
                   keylog: Path | None = None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _bounds(ctx, spec.min_version, spec.max_version, spec.ciphers, spec.groups)
    assert files.chain and files.key
    ctx.load_cert_chain(str(files.chain), str(files.key))
    if spec.client_auth:
        ctx.verify_mode = ssl.CERT_REQUIRED
        if files.cafile:
            ctx.load_verify_locations(cafile=str(files.cafile))
    if keylog:
        ctx.keylog_filename = str(keylog)
    if spec.sni in ("require", "known_only"):
        known = {n.lower() for n in names}

        def pick(_obj: ssl.SSLObject | ssl.SSLSocket, name: str | None,
                 _ctx: ssl.SSLContext) -> int | None:
            if name is None:
                # An SNI-only virtual host has no default certificate to fall back on.
                return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE if spec.sni == "require" else None
            if spec.sni == "known_only" and name.lower() not in known:
                return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
            return None

        ctx.sni_callback = pick
    return ctx


def _step(obj: ssl.SSLObject) -> str:
    try:
        obj.do_handshake()
        return "done"
    except ssl.SSLWantReadError:
        return "want"
    except ssl.SSLError:
        return "error"


def exchange(client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, scenario: Scenario, *,
             session: ssl.SSLSession | None = None) -> tuple[Transcript, ssl.SSLSession | None]:
    """Run one connection; return what crossed the wire and the client's session (to resume).

    The client sends one HTTP request after its handshake completes and closes after the
    answer with close_notify; a side that fails sends its alert (OpenSSL writes it) and closes.
    """
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    sni = scenario.hostname if scenario.client.send_sni else None
    cli = client_ctx.wrap_bio(c_in, c_out, server_side=False, server_hostname=sni, session=session)
    srv = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    tr = Transcript()

    def ship(direction: str) -> None:
        src, dst = (c_out, s_in) if direction == "c2s" else (s_out, c_in)
        data = src.read()
        if data:
            tr.write("c2s" if direction == "c2s" else "s2c", data)
            dst.write(data)

    def close(side: str) -> None:
        unread = (s_in if side == "server" else c_in).pending
        tr.close("server" if side == "server" else "client", "rst" if unread else "fin")

    cs = _step(cli)
    ship("c2s")
    if scenario.middlebox_rst:
        tr.close("server", "rst", ttl=249)  # injected by a device a few hops from the client
        return tr, None
    ss = "want"
    requested = False
    for _ in range(12):
        if ss != "done":
            ss = _step(srv)
            ship("s2c")
            if ss == "error":
                close("server")
                _drain(cli)
                close("client")
                return tr, None
        if cs != "done":
            cs = _step(cli)
            ship("c2s")
            if cs == "error":
                close("client")
                _drain(srv)
                ship("s2c")
                close("server")
                return tr, None
        if cs == "done" and not requested:
            cli.write(REQUEST % scenario.hostname.encode())
            ship("c2s")
            requested = True
        if cs == "done" and ss == "done":
            break
    else:
        raise LabError(f"{scenario.name}: the in-memory handshake did not finish",
                       fix="check the scenario's client and server settings")
    # Application data: the server answers, the client reads it (and TLS 1.3 tickets).
    try:
        if srv.read(65536):
            srv.write(RESPONSE)
        ship("s2c")
        got = b""
        while True:
            try:
                got += cli.read(65536)
            except ssl.SSLWantReadError:
                break
    except ssl.SSLError:  # a late alert (TLS 1.3 client-certificate checks)
        ship("s2c")
        close("server")
        close("client")
        return tr, None
    resumable = cli.session
    with contextlib.suppress(ssl.SSLWantReadError):
        cli.unwrap()
    ship("c2s")
    close("client")
    with contextlib.suppress(ssl.SSLWantReadError, ssl.SSLError):
        srv.unwrap()
    ship("s2c")
    close("server")
    return tr, resumable


def _drain(obj: ssl.SSLObject) -> None:
    """Let a side read what its peer sent last (an alert) before it closes."""
    try:
        obj.do_handshake()
        obj.read(65536)
    except (ssl.SSLError, ValueError):
        pass
