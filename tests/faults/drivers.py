"""The database drivers' side of the connect patching, per engine.

:class:`_DriverProxy` replaces the module-level driver of an engine's connection module
(``bluegreen_rotation.engines.mysql.connection.pymysql``,
``bluegreen_rotation.engines.postgresql.connection.psycopg``) with ``connect`` wrapped by the
recorder; ``_pymysql_connect_lost`` and ``_psycopg_connect_lost`` are the error each driver raises
when a connect is lost, which an injected ``fail`` raises in its place. The recorder installs them
(:meth:`tests.faults.recorder.FaultRecorder.__enter__`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pymysql

CR_SERVER_LOST = 2013


class _DriverProxy:
    """Stands in for an engine connection module's driver (``pymysql``, ``psycopg``): ``connect``
    wrapped, the rest delegated."""

    def __init__(self, real: Any, connect: Callable[..., Any]) -> None:
        self._real = real
        self.connect = connect

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _pymysql_connect_lost() -> Exception:
    return pymysql.err.OperationalError(
        CR_SERVER_LOST,
        "Lost connection to server at 'handshake: reading initial communication packet' (injected)",
    )


def _psycopg_connect_lost() -> Exception:
    return psycopg.OperationalError(
        "connection to server failed: server closed the connection unexpectedly (injected)"
    )
