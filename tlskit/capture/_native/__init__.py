"""tlskit's own capture reader: pcap/pcapng/gzip, link layers, IP, TCP reassembly and the TLS
record layer in Python (stdlib plus ``cryptography``), filling the same tables as tshark.

- :mod:`._reader`: files packet by packet (never the whole file in memory)
- :mod:`._packet`: link layer and IP down to the TCP segment
- :mod:`._engine`: TCP reassembly, TLS by content, STARTTLS, records -> events
"""

from tlskit.capture._native._engine import NativeEngine
from tlskit.capture._native._reader import PacketReader, open_capture

__all__ = ["NativeEngine", "PacketReader", "open_capture"]
