"""Run the vossim CLI with every datagram the process sends recorded at the socket layer.

Used by test_untrusted_peers: ``python tests/live/sendto_audit.py LOG live ...``. Each
``socket.sendto`` (sippy's sender threads, the RTP relay, everything) appends one JSON line
``[host, port]`` to LOG; a destination off loopback is recorded and refused (never sent), so
the test can fail on it without anything leaving the machine.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import socket
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_lock = threading.Lock()
_real_sendto = socket.socket.sendto


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it would be resolved and could be anywhere


def _audited_sendto(self: socket.socket, data: bytes, *args: object) -> int:
    address = args[-1]
    host, port = str(address[0]), int(address[1])  # type: ignore[index]
    with _lock, open(LOG, "a") as log:
        log.write(json.dumps([host, port]) + "\n")
    if not _loopback(host):
        raise OSError(errno.ENETUNREACH, f"sendto_audit: refused to send to {host}:{port}")
    return _real_sendto(self, data, *args)  # type: ignore[arg-type]


if __name__ == "__main__":
    LOG = sys.argv[1]
    socket.socket.sendto = _audited_sendto  # type: ignore[method-assign]
    sys.path.insert(0, str(ROOT))
    from simulator.cli import main

    sys.exit(main(sys.argv[2:]))
