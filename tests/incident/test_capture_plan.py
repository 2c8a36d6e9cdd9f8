"""capture-plan: the commands it prints are right, and the dumpcap one really captures a handshake."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tlskit.capture_plan import capture_plan


def test_filter_keeps_both_directions_and_full_packets() -> None:
    plan = capture_plan("10.1.2.3", 8443)
    assert plan.capture_filter == "host 10.1.2.3 and tcp port 8443"
    assert plan.tcpdump == ["tcpdump", "-i", "any", "-s", "0", "-n", "-w", "tls-10.1.2.3-8443.pcap",
                            "host 10.1.2.3 and tcp port 8443"]
    # rotation: a bounded ring of 20 x 100 MB files
    rot = plan.tcpdump_rotating
    assert rot[rot.index("-C") + 1] == "100" and rot[rot.index("-W") + 1] == "20"
    assert "-s" in plan.dumpcap and plan.dumpcap[plan.dumpcap.index("-s") + 1] == "0"


def test_server_side_for_every_client() -> None:
    plan = capture_plan("any", 443, "server")
    assert plan.capture_filter == "tcp port 443"
    assert "on the server" in str(plan)


def test_keylog_recipes_cover_each_kind_of_client() -> None:
    text = str(capture_plan("api.example.com", 443))
    assert "SSLKEYLOGFILE" in text and "NSS" in text and "curl" in text
    assert "-Djavax.net.debug=ssl:handshake" in text and "javaagent" in text
    assert "openssl s_client -connect api.example.com:443 -servername api.example.com" in text
    assert "TLS 1.3 encrypts" in text


def test_ip_target_never_used_as_sni() -> None:
    text = str(capture_plan("192.0.2.7", 443))
    assert "-servername 192.0.2.7" not in text
    assert "-servername HOST_NAME_FROM_THE_URL" in text


def test_unusual_port_warns_about_decode_as() -> None:
    assert any("Decode As" in w for w in capture_plan("h", 9000).warnings)
    assert not any("Decode As" in w for w in capture_plan("h", 443).warnings)


@pytest.mark.parametrize("bad", [{"side": "middle"}, {"port": 0}, {"port": 70000}])
def test_bad_arguments(bad: dict[str, object]) -> None:
    kwargs: dict[str, object] = {"host": "h", "port": 443, **bad}
    with pytest.raises(ValueError):
        capture_plan(**kwargs)  # type: ignore[arg-type]


def test_cli_prints_the_plan() -> None:
    out = subprocess.run([sys.executable, "-m", "tlskit", "capture-plan", "--host", "10.0.0.5", "--port", "9000"],
                         capture_output=True, text=True)
    assert out.returncode == 0
    assert "tcpdump -i any -s 0 -n -w tls-10.0.0.5-9000.pcap 'host 10.0.0.5 and tcp port 9000'" in out.stdout


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("dumpcap") is None or shutil.which("tshark") is None,
                    reason="capturing on loopback needs root and dumpcap")
def test_emitted_dumpcap_command_captures_the_handshake(tmp_path: Path) -> None:
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    from tests.incident.test_probe_sni import _cert, _server  # the loopback server helpers

    server_ctx.load_cert_chain(*_cert(tmp_path, "api.example.test"))
    with _server(server_ctx) as port:
        plan = capture_plan("127.0.0.1", port, interface="lo", outfile=str(tmp_path / "cap.pcap"))
        cmd = [*plan.dumpcap, "-a", "duration:4", "-q"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)  # dumpcap opens the interface; the handshake must come after
        client = ssl.create_default_context()
        client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", port)) as raw, \
                client.wrap_socket(raw, server_hostname="api.example.test") as tls:
            tls.sendall(b"x")
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, f"{shlex.join(cmd)}: {err}"
    files = sorted(tmp_path.glob("cap*.pcapng"))
    assert files, err
    out = subprocess.run(["tshark", "-r", str(files[0]), "-Y", "tls.handshake.type == 1", "-T", "fields",
                          "-e", "tls.handshake.extensions_server_name", "-d", f"tcp.port=={port},tls"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["api.example.test"]
