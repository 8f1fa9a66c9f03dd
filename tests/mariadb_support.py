"""A private MariaDB server for the tests: its own data directory, port on 127.0.0.1 and socket.

Nothing is shared with a system server: ``mariadb-install-db`` creates a fresh data directory,
``mariadbd --no-defaults`` reads no configuration file, and ``stop()`` shuts it down and removes
the directory. The tests connect over TCP as a user with a password, as a pipeline would.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pymysql

USER, PASSWORD = "vossim", "vossim-test"


def _binary(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError(f"{name} not found: install mariadb-server (make system-deps)")


def _die_with_parent() -> None:
    """In the server's process before exec: SIGTERM when the test process dies, even by SIGKILL,
    so a killed test run leaves no server behind (Linux prctl PR_SET_PDEATHSIG)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateMariaDb:
    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="vossim-mariadb-"))
        self.datadir = self.base / "data"
        self.socket = str(self.base / "mariadb.sock")
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> PrivateMariaDb:
        root = ["--user=root"] if os.geteuid() == 0 else []
        subprocess.run([_binary("mariadb-install-db"), "--no-defaults", *root,
                        f"--datadir={self.datadir}", "--auth-root-authentication-method=socket",
                        "--skip-test-db"],
                       check=True, capture_output=True, timeout=120)
        for _ in range(5):  # a free port may be taken between the probe and the bind
            self.port = _free_port()
            log = (self.base / "server.log").open("wb")
            self.process = subprocess.Popen(
                [_binary("mariadbd"), "--no-defaults", *root, f"--datadir={self.datadir}",
                 f"--port={self.port}", "--bind-address=127.0.0.1", f"--socket={self.socket}",
                 "--skip-name-resolve", "--innodb-buffer-pool-size=64M",
                 "--innodb-log-file-size=64M", "--innodb-flush-log-at-trx-commit=2",
                 f"--pid-file={self.base / 'mariadb.pid'}", "--skip-log-bin"],
                stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
            if self._wait_ready():
                break
            self._kill()
        else:
            raise RuntimeError(f"private MariaDB did not start: {self.log_tail()}")
        admin = pymysql.connect(unix_socket=self.socket, user="root", autocommit=True)
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'")
            cursor.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'127.0.0.1'")
        admin.close()
        return self

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                return False
            try:
                pymysql.connect(unix_socket=self.socket, user="root", connect_timeout=1).close()
                return True
            except pymysql.err.MySQLError:
                time.sleep(0.2)
        return False

    def log_tail(self) -> str:
        path = self.base / "server.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def url(self, database: str | None = None) -> str:
        """A URL of a fresh database name (created by the sink) unless ``database`` is given."""
        name = database or f"vos3000_{uuid.uuid4().hex[:10]}"
        return f"mysql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{name}"

    def connect(self, database: str) -> pymysql.connections.Connection:
        return pymysql.connect(host="127.0.0.1", port=self.port, user=USER, password=PASSWORD,
                               database=database)

    def _kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def stop(self) -> None:
        self._kill()
        shutil.rmtree(self.base, ignore_errors=True)
