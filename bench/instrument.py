"""Counters for AWS API calls and database work, attached to real clients (no mocks).

Database work is counted at the drivers: pymysql's connect and command packets, and for psycopg
every connection attempt (libpq's connect generator, which every ``psycopg.connect`` runs once per
host it tries) and every statement a cursor or the connection itself (BEGIN, COMMIT, ROLLBACK) sends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg._connection_base as psycopg_connection_base
import psycopg.generators
import pymysql.connections


class Counters:
    def __init__(self) -> None:
        self.aws: Counter[str] = Counter()
        self.db_connections = 0
        self.db_commands = 0
        self.step = ""  # the rotation step running now (see mark_step), to count per step
        self.connections_by_step: Counter[str] = Counter()
        self.commands_by_step: Counter[str] = Counter()

    def reset(self) -> None:
        self.aws.clear()
        self.db_connections = 0
        self.db_commands = 0
        self.connections_by_step.clear()
        self.commands_by_step.clear()

    @property
    def aws_total(self) -> int:
        return sum(self.aws.values())


_active: list[Counters] = []


def mark_step(step: str) -> None:
    """Attributes the database work that follows to ``step`` (called by a handler wrapper)."""
    for counters in _active:
        counters.step = step


@contextmanager
def counting(clients: list[Any]) -> Iterator[Counters]:
    """Counts every API call made by ``clients`` and every pymysql and psycopg connection and command."""
    counters = Counters()

    def on_call(model: Any, **_: Any) -> None:
        counters.aws[f"{model.service_model.service_name}.{model.name}"] += 1

    for client in clients:
        client.meta.events.register("before-call.*.*", on_call)
    real_connect = pymysql.connections.Connection.connect
    real_command = pymysql.connections.Connection._execute_command

    def connect(self: Any, *args: Any, **kwargs: Any) -> Any:
        counters.db_connections += 1
        counters.connections_by_step[counters.step] += 1
        return real_connect(self, *args, **kwargs)

    def command(self: Any, *args: Any, **kwargs: Any) -> Any:
        counters.db_commands += 1
        counters.commands_by_step[counters.step] += 1
        return real_command(self, *args, **kwargs)

    def counted_connection() -> None:
        counters.db_connections += 1
        counters.connections_by_step[counters.step] += 1

    def counted_command() -> None:
        counters.db_commands += 1
        counters.commands_by_step[counters.step] += 1

    pymysql.connections.Connection.connect = connect  # type: ignore[method-assign]
    pymysql.connections.Connection._execute_command = command  # type: ignore[method-assign]
    restore_psycopg = _count_psycopg(counted_connection, counted_command)
    _active.append(counters)
    try:
        yield counters
    finally:
        _active.remove(counters)
        pymysql.connections.Connection.connect = real_connect  # type: ignore[method-assign]
        pymysql.connections.Connection._execute_command = real_command  # type: ignore[method-assign]
        restore_psycopg()
        for client in clients:
            client.meta.events.unregister("before-call.*.*", on_call)


def _count_psycopg(on_connect: Callable[[], None], on_command: Callable[[], None]) -> Callable[[], None]:
    """Wraps psycopg's connect generator and statement paths; returns what puts the originals back.

    ``psycopg.generators.connect`` is looked up on its module at every attempt (by the connection's
    ``_connect_gen``), so replacing the module attribute sees failed attempts too, as pymysql's
    ``connect`` does. Statements: ``Cursor.execute``/``executemany`` (``Connection.execute`` goes
    through a cursor) and ``_exec_command``, which carries the transaction commands.
    """
    real_connect = psycopg.generators.connect
    real_execute = psycopg.Cursor.execute
    real_executemany = psycopg.Cursor.executemany
    real_exec_command = psycopg_connection_base.BaseConnection._exec_command

    def connect(*args: Any, **kwargs: Any) -> Any:
        on_connect()
        return (yield from real_connect(*args, **kwargs))

    def execute(self: Any, *args: Any, **kwargs: Any) -> Any:
        on_command()
        return real_execute(self, *args, **kwargs)

    def executemany(self: Any, *args: Any, **kwargs: Any) -> Any:
        on_command()
        return real_executemany(self, *args, **kwargs)

    def exec_command(self: Any, *args: Any, **kwargs: Any) -> Any:
        on_command()
        return (yield from real_exec_command(self, *args, **kwargs))

    psycopg.generators.connect = connect
    psycopg.Cursor.execute = execute  # type: ignore[method-assign]
    psycopg.Cursor.executemany = executemany  # type: ignore[method-assign]
    psycopg_connection_base.BaseConnection._exec_command = exec_command  # type: ignore[method-assign]

    def restore() -> None:
        psycopg.generators.connect = real_connect
        psycopg.Cursor.execute = real_execute  # type: ignore[method-assign]
        psycopg.Cursor.executemany = real_executemany  # type: ignore[method-assign]
        psycopg_connection_base.BaseConnection._exec_command = real_exec_command  # type: ignore[method-assign]

    return restore
