"""A real PostgreSQL 15 for tests: Debian's ``postgresql-15`` in a temp dir on a loopback port.

Shaped like Aurora PostgreSQL where the rotation cares: a master role ``NOSUPERUSER CREATEDB
CREATEROLE`` in a local ``rds_superuser`` stand-in (which, as on Aurora, is in ``pg_read_all_stats``
so the master sees every session), ``password_encryption=scram-sha-256``, TLS with a CA made for the
run. ``log_statement=all`` writes every statement to :attr:`PostgreSQL.log_file`, so a test can prove
that no password ever reached the server.

PostgreSQL refuses to run as root: when this process is root, ``initdb`` runs through
``runuser -u postgres --`` and the server is started as the ``postgres`` user directly (subprocess
``user=``), so the server's parent is this process and the death signal set after the user switch
stops it even when the test run is killed. The bootstrap superuser (``postgres``) is reached only over
the unix socket in the private run directory, for test setup and inspection.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pwd
import shutil
import signal
import subprocess  # nosec B404
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from bluegreen_ops.devstack.network import free_port
from bluegreen_ops.devstack.processes import stop_server
from bluegreen_ops.devstack.tls import TlsFiles, make_tls_files

PG_BIN = Path("/usr/lib/postgresql/15/bin")
OS_USER = "postgres"
SUPERUSER = "postgres"
MASTER_USER = "master"
RDS_SUPERUSER = "rds_superuser"


def _die_with_parent_fast() -> None:
    """The server gets SIGINT (PostgreSQL's fast shutdown) when the process that started it dies."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGINT)  # PR_SET_PDEATHSIG


def _as_postgres(args: Sequence[str]) -> list[str]:
    """``args`` run as the postgres OS user when this process is root (initdb refuses root)."""
    return ["runuser", "-u", OS_USER, "--", *args] if os.geteuid() == 0 else list(args)


@dataclass
class PostgreSQL:
    """One PostgreSQL 15 server with a master role; :meth:`stop` removes everything it made.

    ``tls=False`` serves plaintext only (to prove a TLS mode refuses such a server).
    ``detached=True``: the server outlives this process (``bluegreen local up``) and is stopped by its
    pid; otherwise it gets SIGINT when this process dies.
    ``client_networks``: networks besides ``host`` itself whose clients may log in with a password
    (``make invoke``'s containers reach the server from their bridge's /24, not from ``host``).
    """

    host: str = "127.0.0.1"
    port: int = 0
    tls: bool = True
    master_password: str = "master-Passw0rd!"  # noqa: S105  # nosec B105 - a local throwaway server
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="bluegreen-postgresql-")))
    tls_files: TlsFiles | None = None
    client_networks: tuple[str, ...] = ()
    detached: bool = False
    process: subprocess.Popen[bytes] | None = None

    @property
    def socket_dir(self) -> Path:
        return self.workdir / "run"

    @property
    def log_file(self) -> Path:
        """The server's log: with ``log_statement=all``, every statement any client sent."""
        return self.workdir / "postgresql.log"

    @property
    def ca_file(self) -> str | None:
        return str(self.tls_files.ca_cert) if self.tls_files else None

    def start(self, timeout: float = 60.0) -> PostgreSQL:
        if not (PG_BIN / "postgres").exists():
            raise RuntimeError(
                f"{PG_BIN}/postgres not found: install Debian's postgresql-15 (make postgresql)"
            )
        if not self.port:
            self.port = free_port(self.host)
        datadir = self.workdir / "data"
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            "password_encryption": "scram-sha-256",  # nosec B105 - a setting's value
            "log_statement": "all",
            "log_destination": "stderr",
            "logging_collector": "off",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "16MB",
            "max_connections": "100",
        }
        if self.tls:
            names = tuple(dict.fromkeys(("localhost", "127.0.0.1", self.host)))
            self.tls_files = make_tls_files(self.workdir / "tls", names)
            self.tls_files.server_key.chmod(0o600)
            settings |= {
                "ssl": "on",
                "ssl_cert_file": str(self.tls_files.server_cert),
                "ssl_key_file": str(self.tls_files.server_key),
                "ssl_ca_file": str(self.tls_files.ca_cert),
            }
        if os.geteuid() == 0:
            owner = pwd.getpwnam(OS_USER)
            for path in [self.workdir, *self.workdir.rglob("*")]:
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self.workdir.chmod(0o700)
        init_log = self.workdir / "initdb.log"
        with init_log.open("wb") as out:
            done = subprocess.run(  # noqa: S603  # nosec B603
                _as_postgres(
                    [
                        str(PG_BIN / "initdb"),
                        "-D",
                        str(datadir),
                        "-U",
                        SUPERUSER,
                        "--auth-local=trust",
                        "--auth-host=scram-sha-256",
                        "--no-sync",
                        "-E",
                        "UTF8",
                        "--locale=C",
                    ]
                ),
                check=False,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {init_log.read_text(errors='replace')[-1500:]}")
        hba = ["local all all trust"]
        for network in (f"{self.host}/32", *self.client_networks):
            hba.append(f"hostssl all all {network} scram-sha-256")
            hba.append(f"host all all {network} scram-sha-256")
        (datadir / "pg_hba.conf").write_text("\n".join(hba) + "\n")
        args = [str(PG_BIN / "postgres"), "-D", str(datadir)]
        for name, value in settings.items():
            args += ["-c", f"{name}={value}"]
        root = os.geteuid() == 0
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603  # nosec B603
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                user=OS_USER if root else None,
                group=OS_USER if root else None,
                extra_groups=[] if root else None,
                preexec_fn=None if self.detached else _die_with_parent_fast,  # noqa: PLW1509 - only prctl
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited early: {self.log_tail()}")
            try:
                conn = self.superuser()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"postgres did not start in {timeout}s: {self.log_tail()}") from None
                time.sleep(0.1)
        with conn:
            self._bootstrap(conn)
        return self

    def _bootstrap(self, conn: psycopg.Connection[Any]) -> None:
        """The master role as Aurora makes it; its password sent as a SCRAM verifier, never in clear."""
        verifier = conn.pgconn.encrypt_password(
            self.master_password.encode(), MASTER_USER.encode(), b"scram-sha-256"
        ).decode()
        conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(RDS_SUPERUSER)))
        conn.execute(
            sql.SQL("GRANT pg_read_all_stats, pg_signal_backend TO {}").format(sql.Identifier(RDS_SUPERUSER))
        )
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER CREATEDB CREATEROLE PASSWORD {}").format(
                sql.Identifier(MASTER_USER), sql.Literal(verifier)
            )
        )
        conn.execute(
            sql.SQL("GRANT {} TO {}").format(sql.Identifier(RDS_SUPERUSER), sql.Identifier(MASTER_USER))
        )

    def log_tail(self, size: int = 2000) -> str:
        return self.log_file.read_text(errors="replace")[-size:] if self.log_file.exists() else "(no log)"

    def log_text(self) -> str:
        return self.log_file.read_text(errors="replace")

    def superuser(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        """The bootstrap superuser over the private unix socket, autocommit: for setup and inspection."""
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=SUPERUSER,
            dbname=dbname,
            autocommit=True,
            connect_timeout=2,
        )

    def execute(
        self, statement: str | sql.Composable, args: Sequence[Any] | None = None, dbname: str = "postgres"
    ) -> list[tuple[Any, ...]]:
        """Runs one statement as the bootstrap superuser; the rows, if it returns any."""
        with self.superuser(dbname) as conn, conn.cursor() as cur:
            cur.execute(statement, args)  # type: ignore[arg-type]
            return list(cur.fetchall()) if cur.description else []

    @contextlib.contextmanager
    def connection(self, dbname: str = "postgres") -> Iterator[psycopg.Connection[Any]]:
        with self.superuser(dbname) as conn:
            yield conn

    def stop(self) -> None:
        stop_server(self.process, signal.SIGINT)
        self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)
