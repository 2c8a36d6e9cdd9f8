"""OpenSSL cipher strings (``HIGH:!aNULL:!MD5``) expanded by the local OpenSSL.

An OpenSSL cipher string is a query, not a list: what it selects depends on the OpenSSL
build (Debian's 3.0 has no RC4, DES or 3DES at the default level) and on the security level
(``@SECLEVEL=n``, default set by the build or openssl.cnf). tlskit therefore asks the local
``openssl ciphers`` and labels the answer with the version that gave it. TLS 1.3 suites are
not selected by the cipher string at all: OpenSSL configures them with ``-ciphersuites`` /
``SSL_CTX_set_ciphersuites`` (nginx: ``ssl_conf_command Ciphersuites``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache

from tlskit import registry
from tlskit.ciphers._config import ServerConfig, groups_from_names, suites_from_names
from tlskit.errors import ConfigError

#: OpenSSL's built-in TLS 1.3 default (ssl/ssl_ciph.c TLS_DEFAULT_CIPHERSUITES, 1.1.1 and 3.x)
DEFAULT_TLS13 = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
#: OpenSSL 3.0's default supported groups (ssl/t1_lib.c supported_groups_default)
DEFAULT_GROUPS = "x25519:secp256r1:x448:secp521r1:secp384r1:ffdhe2048:ffdhe3072:ffdhe4096:ffdhe6144:ffdhe8192"
_TIMEOUT = 20


@cache
def openssl_version() -> str:
    """``OpenSSL 3.0.19 27 Jan 2026`` for the local CLI, '' when it is not installed."""
    exe = shutil.which("openssl")
    if not exe:
        return ""
    done = subprocess.run([exe, "version"], capture_output=True, text=True, timeout=_TIMEOUT, check=False)
    return done.stdout.strip()


@cache
def expand(cipher_string: str, ciphersuites: str | None = None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(TLS<=1.2 codes, TLS 1.3 codes) the local OpenSSL selects for a cipher string, in order.

    Raises ConfigError when OpenSSL rejects the string (or is missing and the string is not a
    plain list of suite names).
    """
    exe = shutil.which("openssl")
    t13_arg = ciphersuites if ciphersuites is not None else DEFAULT_TLS13
    if "\x00" in cipher_string or "\x00" in t13_arg:  # cannot be a process argument (nor valid anywhere)
        raise ConfigError(f"the cipher string {cipher_string!r} contains a NUL byte",
                          fix="pass the cipher string as text (a binary file was read as one?)")
    if not exe:
        listed, _, unknown = suites_from_names(re.split(r"[:,\s]+", cipher_string))
        if unknown:
            raise ConfigError(f"cannot expand OpenSSL cipher string {cipher_string!r} without OpenSSL",
                              fix="install the openssl CLI (apt-get install openssl) or list suites by name")
        _, t13_listed, _ = suites_from_names(t13_arg.split(":"))
        return tuple(listed), tuple(t13_listed)
    args = [exe, "ciphers", "-V"]
    if t13_arg:
        args += ["-ciphersuites", t13_arg]
    done = subprocess.run([*args, cipher_string], capture_output=True, text=True, timeout=_TIMEOUT, check=False)
    if done.returncode != 0:
        msg = (done.stderr.strip().splitlines() or ["no cipher matched"])[-1]
        raise ConfigError(f"OpenSSL rejects the cipher string {cipher_string!r} ({msg})",
                          fix="check the spelling against `openssl ciphers -v 'STRING'`; "
                          "an empty selection also fails the server's handshake")
    t12: list[int] = []
    t13: list[int] = []
    for line in done.stdout.splitlines():
        m = re.match(r"\s*0x([0-9A-Fa-f]{2}),0x([0-9A-Fa-f]{2}) - ", line)
        if not m:
            continue
        code = int(m.group(1), 16) << 8 | int(m.group(2), 16)
        (t13 if registry.cipher_suite(code).tls13 else t12).append(code)
    if not t13_arg:
        t13 = []
    return tuple(t12), tuple(t13)


def read_openssl(cipher_string: str, *, ciphersuites: str | None = None,
                 protocols: list[str] | None = None, groups: str | None = None, origin: str = "text",
                 source: str = "openssl") -> ServerConfig:
    """A ServerConfig from an OpenSSL cipher string, as the local OpenSSL expands it.

    Parameters
    ----------
    cipher_string : the TLS <= 1.2 selection (``HIGH:!aNULL:!MD5``, ``ECDHE+AESGCM``).
    ciphersuites : the TLS 1.3 list (``TLS_AES_128_GCM_SHA256:...``); None: OpenSSL's default.
    protocols : enabled versions (``["TLSv1.2", "TLSv1.3"]``); None: TLS 1.2 and 1.3, the
        defaults of OpenSSL 3 at security level 1+ and of nginx >= 1.23.4 in practice.
    groups : the Groups / Curves list (``X25519:prime256v1``); None or ``auto``: OpenSSL 3.0's default.
    """
    t12, t13 = expand(cipher_string.strip(), ciphersuites)
    versions = frozenset(_versions(protocols) if protocols else (0x0303, 0x0304))
    version = openssl_version() or "no local OpenSSL (names resolved from the registry)"
    caveats = [f"expanded by the local {version}; another OpenSSL build or security level "
               "(@SECLEVEL, openssl.cnf CipherString) may select other suites",
               "TLS 1.3 suites come from Ciphersuites"
               + (" (not set: OpenSSL's default)" if ciphersuites is None else ""),
               ]
    if not t12 and 0x0303 in versions:
        caveats.append("the cipher string selects no TLS<=1.2 suite: TLS 1.2 handshakes fail")
    if protocols is None:
        caveats.append("protocol versions not given: assumed TLSv1.2 and TLSv1.3")
    group_list = groups if groups and groups.lower() != "auto" else DEFAULT_GROUPS
    return ServerConfig(versions=versions, cipher_suites=list(t12), tls13_suites=list(t13),
                        source=source, origin=origin, caveats=caveats,
                        groups=groups_from_names(re.split(r"[:,]", group_list), origin=origin))


def _versions(names: list[str]) -> list[int]:
    out = []
    for n in names:
        c = registry.version_code(n)
        if c is None:
            raise ConfigError(f"unknown protocol {n!r}", fix="use SSLv3, TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3")
        out.append(c)
    return out


__all__ = ["DEFAULT_GROUPS", "DEFAULT_TLS13", "expand", "openssl_version", "read_openssl"]
