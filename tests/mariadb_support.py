"""A private MariaDB server for the tests: its own data directory, port on 127.0.0.1 and socket.

The server itself is ``bench/private_mariadb.py`` (also behind ``make mariadb``): here it runs in
a temporary directory, dies with the test process and is removed by ``stop()``. The tests
connect over TCP as a user with a password, as a pipeline would.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from private_mariadb import TEST_PASSWORD, USER, PrivateMariaDb

__all__ = ["TEST_PASSWORD", "USER", "PrivateMariaDb"]
