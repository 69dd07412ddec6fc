"""Debian's MariaDB in a temp datadir on a loopback port, with an admin (master) user.

Tests, the demo, the benchmarks and ``bluegreen local up`` start the same server, so what the tests
prove is what the demo shows: pymysql reaches mariadbd over TCP, nothing mocks a client.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess  # nosec B404
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql

from .network import free_port
from .processes import stop_server
from .tls import TlsFiles

ADMIN_USER = "admin"


def _find_binary(*names: str) -> str:
    for name in names:
        for directory in (None, "/usr/sbin", "/usr/bin", "/usr/local/sbin"):
            path = shutil.which(name, path=directory) if directory else shutil.which(name)
            if path:
                return path
    raise RuntimeError(
        f"none of {', '.join(names)} found: install Debian's mariadb-server (make deps does it)"
    )


def _die_with_parent() -> None:
    """Linux: the server gets SIGTERM if the process that started it dies, even by SIGKILL, so a
    killed test run never leaves a mariadbd behind."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class MariaDB:
    """One mariadbd in a temp datadir on a loopback port, with an admin (master) user.

    ``host`` is the address it listens on (127.0.0.1 by default; the container test uses Docker's
    bridge gateway). ``tls`` makes it serve TLS with the given certificate.
    """

    host: str = "127.0.0.1"
    port: int = 0
    tls: TlsFiles | None = None
    admin_password: str = "admin-Passw0rd!"
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bluegreen-mariadb-")))
    process: subprocess.Popen[bytes] | None = None
    detached: bool = False  # True: outlives this process (``bluegreen local up``); stopped by pid

    @property
    def socket_path(self) -> Path:
        return self.workdir / "mysqld.sock"

    def start(self, timeout: float = 60.0) -> MariaDB:
        install_db = _find_binary("mariadb-install-db", "mysql_install_db")
        server = _find_binary("mariadbd", "mysqld")
        datadir = self.workdir / "data"
        if not self.port:
            self.port = free_port(self.host)
        tmpdir = self.workdir / "tmp"
        tmpdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / "install.log"
        install = [
            install_db,
            "--no-defaults",
            f"--datadir={datadir}",
            f"--tmpdir={tmpdir}",  # a private tmpdir: parallel bootstraps in /tmp can collide
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *(["--user=root"] if os.geteuid() == 0 else []),
        ]
        for attempt in (1, 2):
            with log.open("wb") as out:
                done = subprocess.run(  # nosec B603
                    install, check=False, stdout=out, stderr=subprocess.STDOUT
                )
            if done.returncode == 0:
                break
            shutil.rmtree(datadir, ignore_errors=True)
            if attempt == 2:
                raise RuntimeError(f"mariadb-install-db failed: {log.read_text(errors='replace')[-1500:]}")
        args = [
            server,
            "--no-defaults",
            f"--datadir={datadir}",
            f"--socket={self.socket_path}",
            f"--port={self.port}",
            f"--tmpdir={tmpdir}",
            f"--bind-address={self.host}",
            f"--pid-file={self.workdir / 'mysqld.pid'}",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=32M",
            "--innodb-log-file-size=8M",
            "--skip-name-resolve",
            "--max-connections=500",
            f"--log-error={self.workdir / 'error.log'}",
            "--innodb-flush-log-at-trx-commit=2",
            "--sync-binlog=0",
        ]
        if self.tls:
            args += [
                f"--ssl-ca={self.tls.ca_cert}",
                f"--ssl-cert={self.tls.server_cert}",
                f"--ssl-key={self.tls.server_key}",
            ]
        if os.geteuid() == 0:
            args.append("--user=root")
        self.process = subprocess.Popen(  # nosec B603
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=None if self.detached else _die_with_parent,  # noqa: PLW1509 - only calls prctl
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"mariadbd exited early: {self._error_tail()}")
            try:
                conn = pymysql.connect(unix_socket=str(self.socket_path), user="root", connect_timeout=2)
                break
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"mariadbd did not start in {timeout}s: {self._error_tail()}"
                    ) from None
                time.sleep(0.1)
        with conn, conn.cursor() as cur:
            # The master user: what RDS calls the admin user, able to create users and grant.
            cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (ADMIN_USER, self.admin_password))
            cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO `{ADMIN_USER}`@'%' WITH GRANT OPTION")
        return self

    def _error_tail(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else "(no error log)"

    def root(self) -> pymysql.connections.Connection[Any]:
        """A root connection over the unix socket, for test setup and inspection."""
        return pymysql.connect(unix_socket=str(self.socket_path), user="root", autocommit=True)

    def execute(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        with self.root() as conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return list(cur.fetchall())

    def stop(self) -> None:
        stop_server(self.process, signal.SIGTERM)
        self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)
