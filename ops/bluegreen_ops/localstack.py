"""A real local stack: Debian's MariaDB in a temp datadir and moto's server over HTTP.

Tests, the demo, the benchmarks and ``rotate-now --local`` all start the same stack, so what the tests
prove is what the demo shows. Nothing here mocks a client: boto3 reaches moto through
``AWS_ENDPOINT_URL`` and pymysql reaches mariadbd over TCP on a loopback port.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess  # nosec B404
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymysql

ADMIN_USER = "admin"
REGION = "us-east-1"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


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
class TlsFiles:
    """A CA and a server certificate made for this run (see :func:`make_tls_files`)."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_tls_files(directory: Path, hostnames: tuple[str, ...] = ("localhost", "127.0.0.1")) -> TlsFiles:
    """Generates a throwaway CA and a server certificate for ``hostnames``, for TLS tests."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"bluegreen test CA {os.getpid()}")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = []
    for name in hostnames:
        try:
            alt_names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt_names.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostnames[0])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    files = TlsFiles(directory / "ca.pem", directory / "server-cert.pem", directory / "server-key.pem")
    files.ca_cert.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    files.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.server_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return files


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
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
        shutil.rmtree(self.workdir, ignore_errors=True)


class MotoServer:
    """moto's ThreadedMotoServer on a loopback port; boto3 reaches it through AWS_ENDPOINT_URL."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        from moto.server import ThreadedMotoServer

        self.host = host
        self.port = port or free_port(host)
        self._server = ThreadedMotoServer(ip_address=host, port=self.port, verbose=False)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MotoServer:
        self._server.start()
        return self

    def reset(self) -> None:
        import urllib.request

        req = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10):  # nosec B310
            pass

    def stop(self) -> None:
        self._server.stop()


def aws_environment(endpoint: str) -> dict[str, str]:
    """The variables that point plain boto3 clients at the emulator (contract: no custom variable)."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",  # nosec B105
        "AWS_SESSION_TOKEN": "testing",  # nosec B105
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
    }


@contextlib.contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@dataclass
class AppDatabase:
    """What an adopted Aurora secret describes: a database, its app user and the master secret."""

    secret_arn: str
    master_arn: str
    username: str
    dbname: str


def seed_application(
    db: MariaDB,
    secretsmanager: Any,
    *,
    name: str = "app/aurora",
    username: str = "app",
    password: str = "app-initial-Passw0rd",
    dbname: str = "appdb",
    user_host: str = "%",
    extra_secret: dict[str, Any] | None = None,
    master_extra: dict[str, Any] | None = None,
) -> AppDatabase:
    """Creates a database with one app user and the two secrets an RDS-managed setup would have.

    The app user gets realistic grants (a database-level grant, a table-level grant and an escaped
    wildcard grant) so that cloning its privileges is exercised for real.
    """
    db.execute(f"CREATE DATABASE IF NOT EXISTS `{dbname}`")
    db.execute(f"CREATE TABLE IF NOT EXISTS `{dbname}`.`items` (id INT PRIMARY KEY, name VARCHAR(64))")
    db.execute(f"INSERT IGNORE INTO `{dbname}`.`items` VALUES (1, 'one'), (2, 'two')")
    db.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (username, user_host, password))
    db.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON `{dbname}`.* TO %s@%s", (username, user_host))
    db.execute(f"GRANT SELECT ON `{dbname}\\_archive`.* TO %s@%s", (username, user_host))
    master = secretsmanager.create_secret(
        Name=f"{name}/master",
        SecretString=json.dumps(
            {
                "username": ADMIN_USER,
                "password": db.admin_password,
                "engine": "mysql",
                "host": db.host,
                "port": db.port,
                **(master_extra or {}),
            }
        ),
    )
    secret = secretsmanager.create_secret(
        Name=name,
        SecretString=json.dumps(
            {
                "engine": "aurora-mysql",
                "host": db.host,
                "port": db.port,
                "username": username,
                "password": password,
                "dbname": dbname,
                "masterarn": master["ARN"],
                **(extra_secret or {}),
            }
        ),
    )
    return AppDatabase(secret_arn=secret["ARN"], master_arn=master["ARN"], username=username, dbname=dbname)
