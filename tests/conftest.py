"""Session fixtures shared by the test modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mariadb_support import PrivateMariaDb


@pytest.fixture(scope="session")
def mariadb() -> Iterator[PrivateMariaDb]:
    """A private MariaDB server (own data directory, port and socket), stopped at the end."""
    server = PrivateMariaDb().start()
    try:
        yield server
    finally:
        server.stop()
