"""packet_tree: pyshark's Wireshark field tree for one frame, also from inside a running loop.

Jupyter kernels run an asyncio loop; pyshark drives tshark with its own loop and fails with
"This event loop is already running" when called from one. These tests call packet_tree
from inside ``asyncio.run`` the way a notebook cell does, on Wireshark's TLS 1.3 test capture
(conformance/fingerprints/wireshark, read in place).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.conftest import CONFORMANCE, requires_tshark
from tlskit.capture._tshark import packet_tree
from tlskit.errors import CaptureError

pytestmark = [requires_tshark, pytest.mark.tshark]

WS = CONFORMANCE / "fingerprints" / "wireshark"
PCAP = WS / "tls13-rfc8446.pcap"
KEYS = WS / "keys" / "tls13-rfc8446.keys"


def _tshark_children() -> list[int]:
    me = str(os.getpid())
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            comm = stat.parent.joinpath("comm").read_text().strip()
        except OSError:
            continue
        if fields[1] == me and fields[0] != "Z" and comm in ("tshark", "dumpcap"):
            pids.append(int(stat.parent.name))
    return pids


def test_client_hello_fields() -> None:
    tree = packet_tree(PCAP, 1)
    assert tree["frame"] == 1
    assert list(tree["layers"]) == ["eth", "ip", "tcp", "tls"]
    tls = tree["layers"]["tls"]
    assert tls["tls.handshake.type"] == "Client Hello (1)"
    assert tls["tls.record.version"] == "TLS 1.0 (0x0301)"
    assert tree["layers"]["tcp"]["tcp.dstport"] == "443"
    assert _tshark_children() == []


def test_from_inside_a_running_event_loop_with_keylog() -> None:
    async def cell() -> dict:
        asyncio.get_running_loop()  # the situation in a Jupyter kernel
        return packet_tree(PCAP, 2, keylog=KEYS)

    tree = asyncio.run(cell())
    types = tree["layers"]["tls"]["tls.handshake.type"]
    assert types == [
        "Server Hello (2)", "Encrypted Extensions (8)", "Certificate (11)",
        "Certificate Verify (15)", "Finished (20)",
    ]
    assert _tshark_children() == []


def test_without_keys_the_server_flight_stays_encrypted() -> None:
    tls = packet_tree(PCAP, 2)["layers"]["tls"]
    assert tls["tls.handshake.type"] == "Server Hello (2)"  # one message only: the rest is ciphertext
    assert "tls.app_data" in tls


def test_missing_frame_is_a_capture_error_and_leaves_nothing_running() -> None:
    with pytest.raises(CaptureError, match=r"tls13-rfc8446\.pcap: has no frame 999"):
        packet_tree(PCAP, 999)
    with pytest.raises(CaptureError, match="frame numbers start at 1"):
        packet_tree(PCAP, 0)
    assert _tshark_children() == []


def test_not_a_capture_is_a_capture_error(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not a capture\n")
    with pytest.raises(CaptureError, match=r"notes\.txt: is not a pcap or pcapng"):
        packet_tree(text, 1)
