"""The load: workers running one operation in a loop and recording each outcome with its times."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy

WHO_SQL = "SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)"  # MySQL's user name without its host part
PG_WHO_SQL = "SELECT CURRENT_USER"  # PostgreSQL's roles have no host part
SERVER_THREADS = 4
POOL_RECYCLE = 3  # seconds, the same for every scenario's server pools
PAUSE = 0.005  # between two operations of one worker
PAUSE_AFTER_FAILURE = 0.01  # added after a failed one, so a broken color does not spin


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Op:
    start: float
    end: float
    user: str | None  # None: the operation failed
    error: str | None = None


@dataclass
class Worker:
    """One simulated client; ``kind`` is the column it is reported in, "lambda" or "server"."""

    name: str
    kind: str
    # what :meth:`loop` runs; none for workers whose loop lives elsewhere (a task, a child process)
    run_op: Callable[[], str] = lambda: ""
    ops: list[Op] = field(default_factory=list)

    def succeeded(self, started: float, user: str) -> None:
        self.ops.append(Op(started, time.monotonic(), user))

    def failed(self, started: float, exc: Exception) -> None:
        """Every failure counts (as the operation's outcome), and the worker goes on."""
        self.ops.append(Op(started, time.monotonic(), None, f"{type(exc).__name__}: {exc.args[:1]}"))

    def loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.succeeded(started, self.run_op())
            except Exception as exc:  # noqa: BLE001 - every failure counts; the loop goes on
                self.failed(started, exc)
                time.sleep(PAUSE_AFTER_FAILURE)
            time.sleep(PAUSE)


def pymysql_op(connect: Callable[[], Any], who_sql: str = WHO_SQL) -> Callable[[], str]:
    """A Lambda-style operation: a new connection, one query, closed.

    Any DB-API connection whose cursor is a context manager fits (pymysql's, psycopg's); ``who_sql``
    is the engine's query for the user logged in.
    """

    def op() -> str:
        conn = connect()
        try:
            with conn.cursor() as cur:
                cur.execute(who_sql)
                row = cur.fetchone()
            return str(row[0])
        finally:
            conn.close()

    return op


def engine_op(engine: sqlalchemy.Engine, who_sql: str = WHO_SQL) -> Callable[[], str]:
    """A server-style operation: one query on a connection checked out of the engine's pool."""
    who = sqlalchemy.text(who_sql)

    def op() -> str:
        with engine.connect() as conn:
            return str(conn.scalar(who))

    return op


@contextlib.contextmanager
def running(workers: list[Worker]) -> Iterator[None]:
    """Each worker in a thread of its own for the duration of the block."""
    stop = threading.Event()
    threads = [threading.Thread(target=w.loop, args=(stop,), name=w.name, daemon=True) for w in workers]
    for t in threads:
        t.start()
    try:
        yield
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
