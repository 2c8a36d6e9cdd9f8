"""Java JSSE peers (and ``openssl s_server``) talking to OpenSSL through a recording relay.

Java runs as its own process, so the lab cannot pump its bytes in memory. Instead the Java
peer and a Python ``ssl`` peer (or ``openssl s_server``) talk over loopback sockets through a
relay that records every chunk each side sends and how each side closes (FIN, or RST as the
kernel reports it). The recording becomes a :class:`~tlskit.lab._pcap.Transcript`, framed as
TCP like the in-memory scenarios. The key log comes from the OpenSSL side; the Java side's
``-Djavax.net.debug=ssl:handshake`` output is kept as an artifact.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import select
import shutil
import socket
import ssl
import struct
import subprocess
import threading
from pathlib import Path

from tlskit.errors import LabError
from tlskit.lab._artifacts import STOREPASS, versions_between
from tlskit.lab._openssl import REQUEST, RESPONSE, PeerFiles, client_context, server_context
from tlskit.lab._pcap import Transcript
from tlskit.lab.scenarios import Scenario

JAVA_DIR = Path(__file__).with_name("java")
_TIMEOUT = 30.0  # seconds a peer may take before the lab calls it hung


def unavailable(sc: Scenario) -> str | None:
    """Why ``sc`` cannot be built here, or None."""
    needs = []
    if sc.needs_java:
        needs += ["java", "javac"]
    if sc.server.stack == "s_server":
        needs.append("openssl")
    missing = [tool for tool in needs if shutil.which(tool) is None]
    if missing:
        return (f"{' and '.join(missing)} not found: install a JDK 11+ (Debian: openjdk-17-jdk-headless) "
                "and the openssl CLI to build this scenario")
    return None


def _classes(workdir: Path) -> Path:
    """Compile the Java peers once per source version into a cache folder."""
    sources = sorted(JAVA_DIR.glob("*.java"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tlskit" / "lab-java"
    for root in (base, workdir / "java"):
        target = root / digest
        if (target / "LabClient.class").exists():
            return target
        # Compile beside the target and rename, so concurrent builds never see half a cache.
        scratch = root / f"{digest}.tmp-{os.getpid()}-{threading.get_ident()}"
        try:
            scratch.mkdir(parents=True, exist_ok=True)
        except OSError:
            continue
        done = subprocess.run(["javac", "-d", str(scratch), *map(str, sources)],
                              capture_output=True, text=True, timeout=120, check=False)
        if done.returncode:
            shutil.rmtree(scratch, ignore_errors=True)
            raise LabError(f"javac failed: {done.stderr.strip()[:400]}", path=JAVA_DIR,
                           fix="check the JDK installation (javac -version)")
        try:
            scratch.rename(target)
        except OSError:  # another build won the race (same classes), or a stale folder is there
            if not (target / "LabClient.class").exists():
                return scratch
            shutil.rmtree(scratch, ignore_errors=True)
        return target
    raise LabError("no writable folder for the compiled Java peers", fix="set XDG_CACHE_HOME")


class _Relay(threading.Thread):
    """Accept one client on 127.0.0.1, connect it to ``upstream``, record both directions."""

    def __init__(self, upstream: int):
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.upstream = upstream
        self.transcript = Transcript()
        self.error: str | None = None

    def run(self) -> None:
        try:
            self._relay()
        except OSError as err:  # recorded; the caller reports it with the peers' output
            self.error = str(err)
        finally:
            self.listener.close()

    def _relay(self) -> None:
        self.listener.settimeout(_TIMEOUT)
        down, _ = self.listener.accept()
        up = socket.create_connection(("127.0.0.1", self.upstream), timeout=_TIMEOUT)
        side = {down: "client", up: "server"}
        peer = {down: up, up: down}
        reading = {down, up}
        while reading:
            ready, _, _ = select.select(list(reading), [], [], _TIMEOUT)
            if not ready:
                self.error = "no traffic for 30 s"
                break
            for s in ready:
                who = side[s]
                try:
                    data = s.recv(65536)
                except ConnectionResetError:
                    self.transcript.close(who, "rst")  # type: ignore[arg-type]
                    _reset(peer[s])
                    reading.clear()
                    break
                if data:
                    self.transcript.write("c2s" if who == "client" else "s2c", data)
                    with contextlib.suppress(OSError):
                        peer[s].sendall(data)
                else:
                    self.transcript.close(who, "fin")  # type: ignore[arg-type]
                    reading.discard(s)
                    with contextlib.suppress(OSError):
                        peer[s].shutdown(socket.SHUT_WR)
        for s in (down, up):
            s.close()


def _reset(sock: socket.socket) -> None:
    """Close with RST (linger 0), passing a reset on to the other side."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


def _python_server(sc: Scenario, files: PeerFiles, names: tuple[str, ...],
                   keylog: Path) -> tuple[socket.socket, threading.Thread]:
    ctx = server_context(sc.server, files, names, keylog)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(_TIMEOUT)

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        conn.settimeout(_TIMEOUT)
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                if tls.recv(65536):
                    tls.sendall(RESPONSE)
                try:
                    while tls.recv(65536):
                        pass
                except (ssl.SSLError, OSError):
                    pass
        except (ssl.SSLError, OSError):
            conn.close()  # a failed handshake: OpenSSL sent its alert; the socket just closes
        finally:
            listener.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _s_server(sc: Scenario, files: PeerFiles, names: tuple[str, ...], keylog: Path,
              out: Path) -> tuple[subprocess.Popen[str], int]:
    """``openssl s_server`` as the scenario sets it up.

    With ``sni="warn"`` it knows only ``names`` and answers any other name with a
    warning-level unrecognized_name (s_server's default for ``-servername``); with
    ``tls13_suites`` it offers only those TLS 1.3 suites.
    """
    assert files.chain and files.key
    port = _free_port()
    cmd = ["openssl", "s_server", "-accept", f"127.0.0.1:{port}", "-naccept", "1", "-www",
           "-cert", str(files.chain), "-key", str(files.key), "-cert_chain", str(files.chain),
           "-keylogfile", str(keylog)]
    if sc.server.sni == "warn":
        cmd += ["-servername", names[0], "-cert2", str(files.chain), "-key2", str(files.key)]
    if sc.server.tls13_suites:
        cmd += ["-ciphersuites", sc.server.tls13_suites]
    flag = {"TLSv1.2": "-tls1_2", "TLSv1.3": "-tls1_3"}
    versions = versions_between(sc.server.min_version, sc.server.max_version)
    if len(versions) == 1 and versions[0] in flag:
        cmd.append(flag[versions[0]])
    shown = [c.replace(str(out) + os.sep, "") for c in cmd]
    (out / "server-command.txt").write_text(
        "# The server in this scenario (paths relative to the scenario folder; keys in private/):\n"
        + " ".join(shown) + "\n", encoding="utf-8")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout
    for line in proc.stdout:  # s_server prints ACCEPT once it listens
        if line.startswith("ACCEPT"):
            return proc, port
    proc.kill()
    raise LabError("openssl s_server did not start", fix="check `openssl s_server -help`")


def _java_cmd(classes: Path, main: str, *, sni: bool = True) -> list[str]:
    cmd = ["java", "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", str(classes),
           "-Djavax.net.debug=ssl:handshake"]
    if not sni:
        cmd.append("-Djsse.enableSNIExtension=false")
    return [*cmd, main]


def _protocols(lo: str, hi: str) -> str:
    """JSSE's own defaults unless the scenario pins a range."""
    if (lo, hi) == ("TLSv1.2", "TLSv1.3"):
        return ""
    return ",".join(versions_between(lo, hi))


def run(sc: Scenario, server_files: PeerFiles, client_files: PeerFiles, names: tuple[str, ...],
        keylog: Path, out: Path, workdir: Path, truststore: Path | None,
        server_keystore: Path | None, client_ca_store: Path | None,
        client_keystore: Path | None = None) -> tuple[list[Transcript], dict[str, Path]]:
    """Run one Java scenario; return the relay's transcript and the artifacts written."""
    classes = _classes(workdir)
    debug = out / "jsse-debug.log"
    arts: dict[str, Path] = {"jsse_debug": debug}
    if sc.client.stack == "java":
        if truststore is None:
            raise LabError("the Java client needs a JKS truststore and keytool is missing",
                           fix="install a full JDK (keytool)")
        proc_server: subprocess.Popen[str] | None = None
        thread: threading.Thread | None = None
        if sc.server.stack == "s_server":
            proc_server, port = _s_server(sc, server_files, names, keylog, out)
            arts["server_command"] = out / "server-command.txt"
        else:
            listener, thread = _python_server(sc, server_files, names, keylog)
            port = listener.getsockname()[1]
        relay = _Relay(port)
        relay.start()
        cmd = [*_java_cmd(classes, "LabClient", sni=sc.client.send_sni), str(relay.port),
               sc.hostname, str(truststore), STOREPASS,
               _protocols(sc.client.min_version, sc.client.max_version),
               str(client_keystore) if client_keystore else ""]
        done = _run_java(cmd, debug)
        relay.join(_TIMEOUT)
        if thread:
            thread.join(_TIMEOUT)
        if proc_server:
            try:
                proc_server.wait(5)
            except subprocess.TimeoutExpired:
                proc_server.kill()
                proc_server.wait()
        _check(relay, done, debug)
        return [relay.transcript], arts
    # A Python (OpenSSL) client against the Java server.
    assert server_keystore
    cmd = [*_java_cmd(classes, "LabServer"), str(server_keystore), STOREPASS,
           str(client_ca_store) if client_ca_store else "-", str(sc.server.client_auth).lower(),
           _protocols(sc.server.min_version, sc.server.max_version)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout
    first = proc.stdout.readline()
    if not first.startswith("PORT "):
        proc.kill()
        raise LabError(f"the Java server did not start: {first.strip() or proc.stderr.read()[-400:]}"
                       if proc.stderr else "the Java server did not start", fix="check `java -version`")
    relay = _Relay(int(first.split()[1]))
    relay.start()
    ctx = client_context(sc.client, client_files, keylog)
    with socket.create_connection(("127.0.0.1", relay.port), timeout=_TIMEOUT) as raw:
        try:
            with ctx.wrap_socket(raw, server_hostname=sc.hostname if sc.client.send_sni else None) as tls:
                tls.sendall(REQUEST % sc.hostname.encode())
                tls.recv(65536)
        except (ssl.SSLError, OSError):
            pass
    try:
        stdout, stderr = proc.communicate(timeout=_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
    debug.write_text(stderr, encoding="utf-8")
    relay.join(_TIMEOUT)
    _check(relay, subprocess.CompletedProcess(cmd, proc.returncode, first + stdout, stderr), debug)
    return [relay.transcript], arts


def _run_java(cmd: list[str], debug: Path) -> subprocess.CompletedProcess[str]:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as err:
        raise LabError("the Java peer hung", path=debug,
                       fix="see the JSSE debug log; rerun the scenario alone") from err
    debug.write_text(done.stderr, encoding="utf-8")
    return done


def _check(relay: _Relay, done: subprocess.CompletedProcess[str], debug: Path) -> None:
    if relay.is_alive() or relay.error or not relay.transcript.events:
        raise LabError(f"the relay recorded no complete exchange ({relay.error or 'peer hung'}); "
                       f"Java said: {done.stdout.strip()[-300:]}", path=debug,
                       fix="see the JSSE debug log; rerun the scenario alone")
