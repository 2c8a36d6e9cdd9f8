"""How to capture a TLS failure right: capture commands, key-log recipes, and what a capture won't show.

The guide's advice ("tcpdump -i any -s 0 host IP -w file") is the core; this module makes it
exact for the situation: which side you capture on, the filter that keeps both directions and
the whole handshake, full snap length, and rotation for waits of hours.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from tlskit._hosts import is_ip_literal

SIDES = ("client", "server")


@dataclass(frozen=True)
class CapturePlan:
    """Commands and advice for one situation; ``str(plan)`` is the printable plan."""

    host: str
    port: int
    side: str
    capture_filter: str
    tcpdump: list[str]
    tcpdump_rotating: list[str]
    dumpcap: list[str]
    keylog: list[tuple[str, str]]  # (kind of client, how to get its key log)
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        where = ("on the client (the client app for inbound calls, the message processor for outbound)"
                 if self.side == "client" else
                 "on the server (the router for inbound calls, the backend for outbound)")
        lines = [
            f"Capture plan for TLS to {self.host} port {self.port}, captured {where}.",
            "",
            "1. Start the capture BEFORE reproducing the failure (the handshake is at the start of",
            "   each connection; a capture that starts mid-connection cannot show it):",
            f"     {shlex.join(self.tcpdump)}",
            "   For a long wait (hours), a ring of files that never fills the disk:",
            f"     {shlex.join(self.tcpdump_rotating)}",
            "   Where tcpdump is missing but Wireshark's tools are installed:",
            f"     {shlex.join(self.dumpcap)}",
            "   Stop it with Ctrl-C after the failure has happened once or twice.",
            "",
            "2. Record the session keys on the client, so TLS 1.3 certificates and alerts become visible:",
        ]
        lines += [f"   - {kind}: {how}" for kind, how in self.keylog]
        lines += ["", "3. What this capture will not show:"]
        lines += [f"   - {w}" for w in self.warnings]
        lines += ["", "Then: tlskit diagnose CAPTURE --keylog KEYLOG   (key logs are secrets: never attach them to a ticket)"]
        return "\n".join(lines)


def _filter(host: str, port: int) -> str:
    # `host X` matches both directions; `tcp port P` keeps SYN/FIN/RST with the TLS records.
    if host in ("", "*", "any"):  # on a server: every client
        return f"tcp port {port}"
    return f"host {host} and tcp port {port}"


def capture_plan(host: str, port: int = 443, side: str = "client", *, interface: str = "any",
                 outfile: str | None = None) -> CapturePlan:
    """Build the capture plan for a TLS peer.

    Parameters
    ----------
    host : the peer to watch: the server's address or name when capturing on the client; the
        client's address when capturing on the server (``any`` for every client).
    port : the server's TCP port.
    side : ``client`` or ``server``: where the capture runs.
    interface : capture interface (``any`` on Linux sees every interface, incl. loopback).
    outfile : base name of the capture file.
    """
    if side not in SIDES:
        raise ValueError(f"side must be one of {SIDES}, not {side!r}")
    if not 0 < port < 65536:
        raise ValueError(f"port must be 1-65535, not {port}")
    safe = "".join(ch if ch.isalnum() or ch in ".-" else "_" for ch in host) or "any"
    out = outfile or f"tls-{safe}-{port}.pcap"
    flt = _filter(host, port)
    stem = out.rsplit(".", 1)[0]
    tcpdump = ["tcpdump", "-i", interface, "-s", "0", "-n", "-w", out, flt]
    rotating = ["tcpdump", "-i", interface, "-s", "0", "-n", "-C", "100", "-W", "20",
                "-w", f"{stem}-ring.pcap", flt]
    dumpcap = ["dumpcap", "-i", interface, "-s", "0", "-f", flt, "-b", "filesize:102400",
               "-b", "files:20", "-w", f"{stem}.pcapng"]
    sni = "HOST_NAME_FROM_THE_URL" if is_ip_literal(host) else host  # SNI never carries an IP address
    keylog = [
        ("OpenSSL-based clients (curl, Python, Node.js, nginx upstream tests)",
         "export SSLKEYLOGFILE=/secure/tmp/keys.log before starting the client "
         "(curl 7.58+; Python: ssl contexts from ssl.create_default_context(); Node.js: --tls-keylog=FILE)"),
        ("curl one-off", f"SSLKEYLOGFILE=/secure/tmp/keys.log curl -v https://{host}:{port}/"),
        ("NSS-based clients (Firefox, Chrome)", "export SSLKEYLOGFILE=/secure/tmp/keys.log, then start the browser from that shell"),
        ("openssl s_client", f"openssl s_client -connect {host}:{port} -servername {sni} -keylogfile /secure/tmp/keys.log"),
        ("Java JSSE (Apigee message processor, any JVM client)",
         "no SSLKEYLOGFILE support in the JDK: add a key-log agent (e.g. -javaagent:jSSLKeyLog.jar==/secure/tmp/keys.log), "
         "or run with -Djavax.net.debug=ssl:handshake and read the log with tlskit.load_jsse_log(path)"),
    ]
    warnings = [
        "TLS 1.3 encrypts the server's certificate, the client's certificate and most alerts: without a key log "
        "the capture shows only ClientHello, ServerHello and the record pattern.",
        "Traffic on another host or hop: capture where the failing connection is (inbound: client app → router; "
        "outbound: message processor → backend). A TLS-terminating load balancer in between means two handshakes.",
        "A host name in the filter is resolved once when the capture starts; if the name has several addresses "
        "or changes (DNS load balancing), filter on the port or on each address.",
        "-s 0 keeps whole packets: with a small snap length certificates and large ClientHellos are cut off.",
    ]
    if port not in (443, 8443):
        warnings.append(f"Port {port} is not a usual TLS port: Wireshark needs 'Decode As… TLS' for it; "
                        "tlskit recognises TLS by content on any port.")
    return CapturePlan(host, port, side, flt, tcpdump, rotating, dumpcap, keylog, warnings)
