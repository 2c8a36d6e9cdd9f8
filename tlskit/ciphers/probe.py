"""Active probe: which versions and suites a live server accepts.

Each attempt is one real handshake from Python's ``ssl`` (the local OpenSSL) with one
version pinned. Suites are enumerated the way sslyze and testssl.sh do: offer every suite
the local OpenSSL has, note the one the server picks, remove it, repeat until the server
refuses; that costs one handshake per accepted suite plus one. TLS 1.3 suites cannot be
restricted through Python's ``ssl``, so they are enumerated with ``openssl s_client
-ciphersuites`` when the CLI exists. Every socket has a timeout and the number of attempts is
bounded, so a dead or slow server cannot hang the caller.

Only probe servers you are allowed to test.
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import warnings
from dataclasses import dataclass

from tlskit import registry
from tlskit.ciphers._config import ServerConfig

_TLS_VERSIONS = {
    0x0301: ssl.TLSVersion.TLSv1, 0x0302: ssl.TLSVersion.TLSv1_1,
    0x0303: ssl.TLSVersion.TLSv1_2, 0x0304: ssl.TLSVersion.TLSv1_3,
}
_TLS13_ALL = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
              "TLS_AES_128_CCM_SHA256", "TLS_AES_128_CCM_8_SHA256"]


@dataclass(frozen=True)
class Attempt:
    """One handshake: what was offered and what came back (``error`` when it failed)."""

    version: int
    offered: str
    server_name: str | None
    ok: bool
    cipher: int | None = None
    error: str = ""


def _local_tls12_suites() -> list[str]:
    """OpenSSL names of every TLS <= 1.2 suite the local OpenSSL can offer."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    return [c["name"] for c in ctx.get_ciphers() if c["protocol"] != "TLSv1.3"]


def handshake(host: str, port: int, version: int, *, ciphers: str = "ALL:COMPLEMENTOFALL",
              server_name: str | None = None, timeout: float = 3.0) -> Attempt:
    """One handshake with ``version`` pinned and ``ciphers`` (an OpenSSL string) offered."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # pinning TLS 1.0/1.1 is deliberate here
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = ctx.maximum_version = _TLS_VERSIONS[version]
    try:
        ctx.set_ciphers(ciphers + ":@SECLEVEL=0")
    except ssl.SSLError as exc:
        return Attempt(version, ciphers, server_name, False, error=f"local: {exc.reason or exc}")
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
                name, _, _ = tls.cipher() or ("", "", 0)
                code = registry.cipher_suite_code(name) if name else None
                return Attempt(version, ciphers, server_name, True, cipher=code)
    except ssl.SSLError as exc:
        return Attempt(version, ciphers, server_name, False, error=str(exc.reason or exc))
    except OSError as exc:  # refused, reset, timeout
        return Attempt(version, ciphers, server_name, False, error=type(exc).__name__ + f": {exc}")


def _s_client_tls13(host: str, port: int, suites: list[str], server_name: str | None,
                    timeout: float) -> int | None:
    exe = shutil.which("openssl")
    if not exe:
        return None
    args = [exe, "s_client", "-connect", f"{host}:{port}", "-tls1_3", "-ciphersuites", ":".join(suites)]
    args += ["-servername", server_name] if server_name else ["-noservername"]
    try:
        done = subprocess.run(args, input="", capture_output=True, text=True, timeout=timeout + 2, check=False)
    except subprocess.TimeoutExpired:
        return None
    for line in done.stdout.splitlines():
        if "Cipher is " in line and "(NONE)" not in line:
            return registry.cipher_suite_code(line.rsplit("Cipher is ", 1)[1].strip())
    return None


def probe_server(host: str, port: int = 443, *, server_name: str | None = None, timeout: float = 3.0,
                 versions: tuple[int, ...] = (0x0301, 0x0302, 0x0303, 0x0304),
                 enumerate_suites: bool = True, max_attempts: int = 400) -> ServerConfig:
    """Probe a live server and return what it accepts.

    Parameters
    ----------
    host, port : the server (loopback or a host you may test).
    server_name : SNI to send (also tried without, to learn whether SNI is required).
    timeout : seconds per connection attempt.
    versions : protocol versions to try.
    enumerate_suites : False: only test versions (one handshake each).
    max_attempts : hard bound on handshakes.
    """
    attempts: list[Attempt] = []

    def attempt(version: int, ciphers: str = "ALL:COMPLEMENTOFALL", sni: str | None = server_name) -> Attempt:
        a = handshake(host, port, version, ciphers=ciphers, server_name=sni, timeout=timeout)
        attempts.append(a)
        return a

    accepted = [v for v in versions if len(attempts) < max_attempts and attempt(v).ok]
    t12: list[int] = []
    t13: list[int] = []
    caveats = [f"probed {host}:{port} from the local OpenSSL ({ssl.OPENSSL_VERSION}); suites it lacks "
               "could not be offered"]
    legacy = [v for v in accepted if v <= 0x0303]
    if enumerate_suites and legacy:
        top = max(legacy)
        remaining = _local_tls12_suites()
        while remaining and len(attempts) < max_attempts:
            a = attempt(top, ":".join(remaining))
            if not a.ok or a.cipher is None:
                break
            t12.append(a.cipher)
            name = registry.openssl_name(a.cipher)
            if name not in remaining:
                break
            remaining.remove(name)
    if enumerate_suites and 0x0304 in accepted:
        remaining13 = list(_TLS13_ALL)
        while remaining13 and len(attempts) < max_attempts:
            code = _s_client_tls13(host, port, remaining13, server_name, timeout)
            attempts.append(Attempt(0x0304, ":".join(remaining13), server_name, code is not None, cipher=code))
            if code is None:
                break
            t13.append(code)
            remaining13 = [s for s in remaining13 if registry.cipher_suite_code(s) != code]
        if not t13:
            caveats.append("TLS 1.3 suites not enumerated (no openssl CLI)")
    sni_required: bool | None = None
    if server_name and accepted:
        sni_required = not attempt(max(accepted), sni=None).ok
    elif not accepted:
        caveats.append("no version was accepted" + ("" if server_name else "; the server may require SNI"))
    if len(attempts) >= max_attempts:
        caveats.append(f"stopped after {max_attempts} handshakes")
    cfg = ServerConfig(versions=frozenset(accepted), cipher_suites=t12, tls13_suites=t13,
                       sni_required=sni_required, server_names=[server_name] if server_name else [],
                       source="probe", origin=f"{host}:{port}", caveats=caveats)
    object.__setattr__(cfg, "_attempts", attempts)  # kept for drill-down, not part of equality
    return cfg


def attempts_of(cfg: ServerConfig) -> list[Attempt]:
    """The handshakes a probe made (empty for other sources)."""
    return list(getattr(cfg, "_attempts", []))


__all__ = ["Attempt", "attempts_of", "handshake", "probe_server"]
