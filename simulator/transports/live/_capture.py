"""``--pcap``: the real datagrams on loopback, written as a pcap file tshark reads as SIP."""

from __future__ import annotations

import threading
from pathlib import Path

from scapy.all import AsyncSniffer, conf, wrpcap


class Capture:
    """Sniffs UDP on ``lo`` to or from ``ports`` while the switch runs."""

    def __init__(self, path: str | Path, ports: set[int]) -> None:
        conf.use_pcap = True  # libpcap on lo: otherwise every datagram is captured twice
        self.path = Path(path)
        wanted = " or ".join(f"port {p}" for p in sorted(ports))
        self.listening = threading.Event()
        self.sniffer = AsyncSniffer(iface="lo", filter=f"udp and ({wanted})", store=True,
                                    started_callback=self.listening.set)

    def start(self) -> None:
        self.sniffer.start()
        # start() returns before libpcap is listening; wait until it is, or the first INVITE
        # is lost from the capture (a fixed 0.3 s wait was not enough on a loaded machine).
        self.listening.wait(timeout=10)

    def stop(self) -> list:
        packets = self.sniffer.stop() or []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        wrpcap(str(self.path), packets)
        return packets
