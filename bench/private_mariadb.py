"""A private MariaDB server: its own data directory, a free port on 127.0.0.1, its own socket.

Nothing is shared with a system server: ``mariadb-install-db`` creates a fresh data directory,
``mariadbd --no-defaults`` reads no configuration file, and root is reached through the server's
own socket (socket authentication), so no root password is ever set or asked for. Clients connect
over TCP as a user with a password, as a pipeline would.

Two ways to use it:

- ``make mariadb`` / ``make mariadb-stop`` run this file as a script (``start`` / ``stop``): the
  server keeps running after the command, with its data under ``.mariadb/`` (kept between starts),
  and the ``--db`` URL to use is printed and written to ``.mariadb/url``.
- The tests and ``bench/pipeline.py`` import ``PrivateMariaDb``: a server in a temporary
  directory that dies with the process that started it and is removed by ``stop()``.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import getpass
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pymysql

USER = "vossim"
TEST_PASSWORD = "vossim-test"
DOCS_PASSWORD = "vossim"
DOCS_DATABASE = "vos3000"
DEFAULT_DIR = ".mariadb"
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux


class MariaDbError(Exception):
    """The server cannot be installed, started or stopped; the message says why."""


def _binary(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise MariaDbError(f"{name} not found: install mariadb-server (make system-deps)")


def _die_with_parent() -> None:
    """In the server's process before exec: SIGTERM when the process that started it dies, even
    by SIGKILL, so a killed test run leaves no server behind (Linux prctl PR_SET_PDEATHSIG)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM, 0, 0, 0)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _socket_user() -> str:
    """The account ``mariadb-install-db`` lets in through the socket: root, or whoever ran it."""
    return "root" if os.geteuid() == 0 else getpass.getuser()


class PrivateMariaDb:
    """A server under ``base`` (a fresh temporary directory when None).

    ``detached``: the server outlives this process (``make mariadb``); otherwise it gets SIGTERM
    when this process dies. ``stop()`` removes ``base`` unless ``keep_data``.
    """

    def __init__(self, base: Path | None = None, *, password: str = TEST_PASSWORD,
                 detached: bool = False, keep_data: bool = False) -> None:
        self.base = (base or Path(tempfile.mkdtemp(prefix="vossim-mariadb-"))).resolve()
        self.datadir = self.base / "data"
        self.password = password
        self.detached = detached
        self.keep_data = keep_data
        socket_path = self.base / "mariadb.sock"
        if len(str(socket_path)) > _MAX_SOCKET_PATH:
            digest = hashlib.sha256(str(self.base).encode()).hexdigest()[:12]
            socket_path = Path(tempfile.gettempdir()) / f"vossim-mariadb-{digest}.sock"
        self.socket = str(socket_path)
        self.pid_file = self.base / "mariadb.pid"
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    # -- starting ---------------------------------------------------------------------------
    def start(self) -> PrivateMariaDb:
        root = ["--user=root"] if os.geteuid() == 0 else []
        self.base.mkdir(parents=True, exist_ok=True)
        if not (self.datadir / "mysql").is_dir():
            shutil.rmtree(self.datadir, ignore_errors=True)  # a half-made one from a failed start
            done = subprocess.run(
                [_binary("mariadb-install-db"), "--no-defaults", *root,
                 f"--datadir={self.datadir}", "--auth-root-authentication-method=socket",
                 "--skip-test-db"], capture_output=True, text=True, timeout=120, check=False)
            if done.returncode != 0:
                tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
                raise MariaDbError(f"mariadb-install-db failed in {self.datadir}: {tail[0]}")
        ports = [self._previous_port(), *(_free_port() for _ in range(5))]
        for port in [p for p in ports if p]:  # a free port may be taken before the server binds
            self.port = port
            with (self.base / "server.log").open("ab") as log:
                self.process = subprocess.Popen(
                    [_binary("mariadbd"), "--no-defaults", *root, f"--datadir={self.datadir}",
                     f"--port={self.port}", "--bind-address=127.0.0.1",
                     f"--socket={self.socket}", "--skip-name-resolve",
                     "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=64M",
                     "--innodb-flush-log-at-trx-commit=2", f"--pid-file={self.pid_file}",
                     "--skip-log-bin"],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=self.detached,
                    preexec_fn=None if self.detached else _die_with_parent)
            if self._wait_ready():
                break
            self._kill()
        else:
            raise MariaDbError(f"the private MariaDB server did not start: {self.log_tail()}")
        (self.base / "port").write_text(f"{self.port}\n")
        admin = pymysql.connect(unix_socket=self.socket, user=_socket_user(), autocommit=True)
        with admin.cursor() as cursor:
            for host in ("127.0.0.1", "localhost"):
                cursor.execute(f"CREATE USER IF NOT EXISTS '{USER}'@'{host}' IDENTIFIED BY %s",
                               (self.password,))
                cursor.execute(f"ALTER USER '{USER}'@'{host}' IDENTIFIED BY %s", (self.password,))
                cursor.execute(f"GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'{host}'")
        admin.close()
        return self

    def _previous_port(self) -> int:
        with contextlib.suppress(OSError, ValueError):
            return int((self.base / "port").read_text())
        return 0

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                return False
            try:
                pymysql.connect(unix_socket=self.socket, user=_socket_user(),
                                connect_timeout=1).close()
                return True
            except pymysql.err.MySQLError:
                time.sleep(0.2)
        return False

    def log_tail(self) -> str:
        path = self.base / "server.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    # -- using ------------------------------------------------------------------------------
    def url(self, database: str | None = None) -> str:
        """A URL of a fresh database name (created by the sink) unless ``database`` is given."""
        name = database or f"vos3000_{uuid.uuid4().hex[:10]}"
        return f"mysql://{USER}:{self.password}@127.0.0.1:{self.port}/{name}"

    def connect(self, database: str) -> pymysql.connections.Connection:
        return pymysql.connect(host="127.0.0.1", port=self.port, user=USER,
                               password=self.password, database=database)

    # -- stopping ---------------------------------------------------------------------------
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
        if not self.keep_data:
            shutil.rmtree(self.base, ignore_errors=True)

    def running_pid(self) -> int | None:
        """The pid of the server running on this data directory (started by an earlier
        ``start``), or None. A pid file naming another program (a reused pid) does not count."""
        try:
            pid = int(self.pid_file.read_text())
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return None
        datadir = f"--datadir={self.datadir}".encode()
        return pid if command and b"mariadbd" in command[0] and datadir in command else None

    def stop_detached(self) -> bool:
        """Stop the server an earlier ``start`` left running; False when none was running."""
        pid = self.running_pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.running_pid() == pid:
            time.sleep(0.1)
        if self.running_pid() == pid:
            os.kill(pid, signal.SIGKILL)
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="private_mariadb.py",
        description="Start or stop a private MariaDB server for vossim's --format mariadb "
                    "(make mariadb, make mariadb-stop).")
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("--dir", default=DEFAULT_DIR,
                        help=f"where its data, socket, log and URL live (default {DEFAULT_DIR})")
    args = parser.parse_args(argv)
    server = PrivateMariaDb(Path(args.dir), password=DOCS_PASSWORD, detached=True,
                            keep_data=True)
    url_file = server.base / "url"
    try:
        if args.action == "stop":
            stopped = server.stop_detached()
            print(f"stopped the MariaDB server of {args.dir}/ (its data stays there)" if stopped
                  else f"no MariaDB server of {args.dir}/ is running")
            return 0
        if server.running_pid() is not None and url_file.exists():
            print(f"the MariaDB server of {args.dir}/ is already running; use:\n"
                  f"  --db {url_file.read_text().strip()}")
            return 0
        server.start()
    except (MariaDbError, pymysql.err.MySQLError, OSError) as exc:
        print(f"private_mariadb.py {args.action}: {exc}", file=sys.stderr)
        return 2
    url = server.url(DOCS_DATABASE)
    url_file.write_text(url + "\n")
    print(f"MariaDB runs on 127.0.0.1:{server.port} with its data in {args.dir}/ "
          f"(log: {args.dir}/server.log; stop it with make mariadb-stop); use:\n  --db {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
