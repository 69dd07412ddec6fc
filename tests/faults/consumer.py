"""A consumer reading the mirror throughout a fault run: :class:`Consumer`, on its own thread.

It reads the flag and the URLs as an application would and logs in with them, so a run proves no
consumer is ever handed credentials that fail (:class:`ConsumerStats` counts reads, logins and
credential-free failures), on MySQL (pymysql) and on PostgreSQL (psycopg).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pymysql
from botocore.exceptions import ClientError


@dataclass
class ConsumerStats:
    reads: int = 0
    logins: int = 0
    not_yet: int = 0
    failures: list[str] = field(default_factory=list)


class Consumer:
    """Reads the flag and the URLs in one GetParameters, then logs in with the flag's writer and reader
    URLs, over and over, until stopped. Failures are described without any credential."""

    def __init__(self, ssm: Any, prefix: str, pause: float = 0.01, engine: str = "mariadb") -> None:
        self._ssm = ssm
        self._prefix = prefix
        self._engine = engine
        self._pause = pause
        self._stop = threading.Event()
        self.stats = ConsumerStats()
        self._thread = threading.Thread(target=self._run, name="consumer", daemon=True)

    def __enter__(self) -> Consumer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.once()  # the end state must serve consumers too

    def _run(self) -> None:
        while not self._stop.is_set():
            self.once()
            time.sleep(self._pause)

    def once(self) -> None:
        from bluegreen_db.dburl import parse_url
        from tests.helpers import login_as

        stats = self.stats
        flag_name = f"{self._prefix}/blue-green-env"
        names = [flag_name] + [
            f"{self._prefix}/{c}/{r}-db-url" for c in ("blue", "green") for r in ("writer", "reader")
        ]
        try:
            response = self._ssm.get_parameters(Names=names, WithDecryption=True)
        except ClientError as exc:
            stats.failures.append(f"GetParameters: {exc.response.get('Error', {}).get('Code')}")
            return
        stats.reads += 1
        values = {p["Name"]: p["Value"] for p in response.get("Parameters", [])}
        color = values.get(flag_name)
        if color is None:
            stats.not_yet += 1  # before the first rotation's setSecret there is no mirror yet
            return
        for role in ("writer", "reader"):
            url = values.get(f"{self._prefix}/{color}/{role}-db-url")
            if url is None:
                stats.failures.append(f"flag names {color!r} but {color}/{role} URL is missing")
                continue
            try:
                if self._engine == "postgresql":
                    _psycopg_login(url)
                else:
                    login_as(url, connect_timeout=5, ssl_disabled=True)
            except pymysql.err.MySQLError as exc:
                stats.failures.append(f"{color}/{role} as {parse_url(url).username!r}: error {exc.args[0]}")
                continue
            except psycopg.Error as exc:
                error = exc.sqlstate or type(exc).__name__
                stats.failures.append(f"{color}/{role} as {parse_url(url).username!r}: error {error}")
                continue
            stats.logins += 1


def _psycopg_login(url: str) -> str:
    """Logs in with a URL's credentials (plaintext: the session's server is reached on loopback)."""
    from tests.helpers import pg_connect

    with pg_connect(url) as conn:
        row = conn.execute("SELECT session_user").fetchone()
    return str(row[0]) if row else ""
