"""What consumers do without this project, measured against the layer in the same run.

* credentials read once at start-up and kept (``static_pymysql``, ``static_engine``): the in-place
  ``ALTER USER`` baseline, and the seed layer's servers;
* the seed post's Lambda layer (``SeedLayer``): three sequential ``get_parameter`` calls at cold start,
  never refreshed;
* a cache that holds one lock across its Parameter Store call (``LockHeldAcrossCall``): the hung
  Parameter Store baseline, where every waiter queues behind the hung call and then refetches.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pymysql
import sqlalchemy

from bluegreen_db.dburl import parse_url
from bluegreen_db.naming import ParameterNames

from .load import POOL_RECYCLE, SERVER_THREADS


class SeedLayer:
    """The seed post's Lambda layer: three sequential reads at cold start (import), never refreshed."""

    def __init__(self, client: Any, prefix: str) -> None:
        get = self._get(client)
        self.blue_green_env = get(f"{prefix}/blue-green-env")
        self.writer_db_url = get(f"{prefix}/{self.blue_green_env}/writer-db-url")
        self.reader_db_url = get(f"{prefix}/{self.blue_green_env}/reader-db-url")

    @staticmethod
    def _get(client: Any) -> Callable[[str], str]:
        def get(name: str) -> str:
            return str(client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])

        return get


def static_pymysql(url: str) -> Callable[[], Any]:
    """Connections with the credentials of ``url``, as read once: they never change."""
    parsed = parse_url(url)
    return lambda: pymysql.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
        connect_timeout=5,
    )


def static_engine(url: str) -> sqlalchemy.Engine:
    """A plain SQLAlchemy pool on ``url``, sized and recycled like the layer's engines."""
    return sqlalchemy.create_engine(
        url, pool_size=SERVER_THREADS, max_overflow=0, pool_pre_ping=True, pool_recycle=POOL_RECYCLE
    )


class LockHeldAcrossCall:
    """A one-second snapshot cache whose refresh holds one lock across the GetParameters call; every
    waiter refetches once it gets the lock, and a failed refresh serves the stale snapshot."""

    def __init__(self, prefix: str, client: Any) -> None:
        self._names = ParameterNames(prefix)
        self._client = client
        self._lock = threading.Lock()
        self._snapshot: tuple[float, str] | None = None

    def current(self) -> tuple[float, str]:
        snap = self._snapshot
        if snap is not None and time.monotonic() - snap[0] < 1.0:
            return snap
        with self._lock:
            try:
                params = self._client.get_parameters(Names=self._names.all(), WithDecryption=True)
                flag = next(p["Value"] for p in params["Parameters"] if p["Name"] == self._names.flag)
                self._snapshot = (time.monotonic(), flag)
            except Exception:  # a failed refresh serves the stale snapshot
                if self._snapshot is None:
                    raise
            return self._snapshot
