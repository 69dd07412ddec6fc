"""Counters for AWS API calls and database work, attached to real clients (no mocks)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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
    """Counts every API call made by ``clients`` and every pymysql connection and command."""
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

    pymysql.connections.Connection.connect = connect  # type: ignore[method-assign]
    pymysql.connections.Connection._execute_command = command  # type: ignore[method-assign]
    _active.append(counters)
    try:
        yield counters
    finally:
        _active.remove(counters)
        pymysql.connections.Connection.connect = real_connect  # type: ignore[method-assign]
        pymysql.connections.Connection._execute_command = real_command  # type: ignore[method-assign]
        for client in clients:
            client.meta.events.unregister("before-call.*.*", on_call)
