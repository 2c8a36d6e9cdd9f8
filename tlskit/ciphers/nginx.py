"""nginx configuration: ssl_protocols, ssl_ciphers, ssl_conf_command Ciphersuites, server_name.

nginx hands ``ssl_ciphers`` to OpenSSL unchanged, so the suites are what the local OpenSSL
selects for that string (see :mod:`tlskit.ciphers.openssl`). Directives set in ``http {}`` are
inherited by ``server {}`` blocks that do not set them. Which server block answers a
handshake is decided by SNI: the block whose ``server_name`` matches, else the port's default
server (``listen ... default_server``, or the first block). A default server with
``ssl_reject_handshake on`` (nginx >= 1.19.4) refuses clients that send no or an unknown
server_name: that is what makes SNI required.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tlskit.ciphers._config import ServerConfig
from tlskit.ciphers.openssl import read_openssl
from tlskit.errors import ConfigError

DEFAULT_CIPHERS = "HIGH:!aNULL:!MD5"  # nginx's built-in ssl_ciphers
# nginx >= 1.27.3 defaults to TLSv1.2 TLSv1.3 (1.23.4-1.27.2 also listed TLSv1 TLSv1.1, which
# OpenSSL 3 refuses at its default security level anyway)
DEFAULT_PROTOCOLS = ["TLSv1.2", "TLSv1.3"]
_INHERITED = ("ssl_protocols", "ssl_ciphers", "ssl_conf_command", "ssl_prefer_server_ciphers", "ssl_ecdh_curve")


@dataclass
class _Block:
    name: str
    args: list[str]
    children: list[_Block] = field(default_factory=list)
    line: int = 0

    def directives(self, name: str) -> list[_Block]:
        return [c for c in self.children if c.name == name]


def _tokens(text: str) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for m in re.finditer(r"#[^\n]*|\"((?:\\.|[^\"\\])*)\"|'((?:\\.|[^'\\])*)'|[{};]|[^\s{};#\"']+", text):
        tok = m.group(0)
        if tok.startswith("#"):
            continue
        line = text.count("\n", 0, m.start()) + 1
        if m.group(1) is not None or m.group(2) is not None:
            out.append(("\0" + (m.group(1) if m.group(1) is not None else m.group(2)), line))
        else:
            out.append((tok, line))
    return out


def parse(text: str, *, origin: str = "text") -> _Block:
    """The configuration as a tree of directives (a synthetic root block)."""
    root = _Block("main", [])
    stack = [root]
    words: list[str] = []
    start = 0
    for tok, line in _tokens(text):
        if tok == ";":
            if words:
                stack[-1].children.append(_Block(words[0], words[1:], line=start))
            words = []
        elif tok == "{":
            if not words:
                raise ConfigError(f"line {line}: '{{' without a directive name", path=origin,
                                  fix="check the braces of the nginx configuration (nginx -t)")
            blk = _Block(words[0], words[1:], line=start)
            stack[-1].children.append(blk)
            stack.append(blk)
            words = []
        elif tok == "}":
            if len(stack) == 1 or words:
                raise ConfigError(f"line {line}: unbalanced '}}' or missing ';'", path=origin,
                                  fix="check the braces and semicolons (nginx -t)")
            stack.pop()
        else:
            if not words:
                start = line
            words.append(tok.lstrip("\0"))
    if len(stack) != 1 or words:
        raise ConfigError("unterminated block or directive at the end", path=origin,
                          fix="check the braces and semicolons (nginx -t)")
    return root


def _servers(root: _Block) -> list[tuple[_Block, dict[str, list[_Block]]]]:
    """Every server block with the inherited http-level TLS directives."""
    found: list[tuple[_Block, dict[str, list[_Block]]]] = []

    def walk(blk: _Block, inherited: dict[str, list[_Block]]) -> None:
        here = dict(inherited)
        for d in _INHERITED:
            if blk.directives(d):
                here[d] = blk.directives(d)
        for child in blk.children:
            if child.name == "server" and blk.name in ("main", "http"):
                found.append((child, here))
            elif child.name == "http":
                walk(child, here)

    walk(root, {})
    return found


def _is_ssl(server: _Block) -> bool:
    listens = server.directives("listen")
    return any("ssl" in d.args or any(a.endswith(":443") or a == "443" for a in d.args) for d in listens) or bool(
        server.directives("ssl_certificate") or server.directives("ssl_reject_handshake"))


def _names(server: _Block) -> list[str]:
    return [a for d in server.directives("server_name") for a in d.args if a not in ("", '""', "_")]


def _matches(pattern: str, host: str) -> bool:
    host = host.lower()
    p = pattern.lower()
    if p.startswith("~"):
        return re.search(p[1:].lstrip("*"), host) is not None
    if p.startswith("*."):
        return host.endswith(p[1:])
    if p.startswith("."):
        return host == p[1:] or host.endswith(p)
    if p.endswith(".*"):
        return host.startswith(p[:-1])
    return host == p


def read_nginx(text: str, *, origin: str = "text", server_name: str | None = None) -> ServerConfig:
    """The TLS settings of one nginx server block.

    Parameters
    ----------
    server_name : pick the block that serves this host (as SNI would); None: the first TLS
        block that does not just reject handshakes.
    """
    root = parse(text, origin=origin)
    servers = [(s, inh) for s, inh in _servers(root) if _is_ssl(s)]
    if not servers:
        # a bare snippet of ssl_* directives (no server block) is one server
        if any(root.directives(d) for d in ("ssl_protocols", "ssl_ciphers", "ssl_conf_command")):
            servers = [(root, {})]
        else:
            raise ConfigError("no TLS server block (listen ... ssl) and no ssl_* directives found",
                              path=origin, fix="pass the server { } block that terminates TLS")

    def rejects(s: _Block) -> bool:
        return any(d.args[:1] == ["on"] for d in s.directives("ssl_reject_handshake"))

    default = next((s for s, _ in servers if any("default_server" in d.args or "default" in d.args
                                                   for d in s.directives("listen"))), servers[0][0])
    if server_name:
        chosen = next(((s, inh) for s, inh in servers if any(_matches(p, server_name) for p in _names(s))), None)
        if chosen is None:
            chosen = next((s, inh) for s, inh in servers if s is default)
    else:
        chosen = next(((s, inh) for s, inh in servers if not rejects(s)), servers[0])
    server, inherited = chosen

    def values(name: str) -> list[_Block]:
        return server.directives(name) or inherited.get(name, [])

    protocols = [a for d in values("ssl_protocols") for a in d.args]
    ciphers = " ".join(a for d in values("ssl_ciphers") for a in d.args) or DEFAULT_CIPHERS
    ciphersuites = None
    groups = " ".join(a for d in values("ssl_ecdh_curve") for a in d.args) or None  # default: auto
    for d in values("ssl_conf_command"):
        if d.args and d.args[0].lower() == "ciphersuites" and len(d.args) > 1:
            ciphersuites = d.args[1]
        if d.args and d.args[0].lower() in ("groups", "curves") and len(d.args) > 1:
            groups = d.args[1]
    cfg = read_openssl(ciphers, ciphersuites=ciphersuites, protocols=protocols or DEFAULT_PROTOCOLS,
                       groups=groups, origin=origin, source="nginx")
    caveats = [c for c in cfg.caveats if not c.startswith("protocol versions not given")]
    if not protocols:
        caveats.append(f"ssl_protocols not set: nginx's default {' '.join(DEFAULT_PROTOCOLS)} assumed")
    if not values("ssl_ciphers"):
        caveats.append(f"ssl_ciphers not set: nginx's default {DEFAULT_CIPHERS}")
    if any(d.name == "include" for d in server.children) or root.directives("include"):
        caveats.append("the configuration has include directives that were not followed")
    sni_required = rejects(default) and default is not server
    if not rejects(default) and default is not server:
        caveats.append("clients without a matching server_name get the default server's certificate")
    names = _names(server)
    prefer = any(d.args[:1] == ["on"] for d in values("ssl_prefer_server_ciphers"))
    return cfg.replace(sni_required=sni_required, server_names=names, caveats=caveats, server_order=prefer)


__all__ = ["DEFAULT_CIPHERS", "DEFAULT_PROTOCOLS", "parse", "read_nginx"]
