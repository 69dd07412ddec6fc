"""Blue/green database credentials from Parameter Store: shared naming, URL codec and consumers.

The public names below are imported lazily, on first attribute access: ``import bluegreen_db`` costs
nothing, boto3 and the database driver load on the first refresh or connection, and SQLAlchemy only when
``create_engine`` is used (it is optional for Lambdas).

Lambda::

    from bluegreen_db import connect

    def handler(event, context):
        with connect("reader") as conn, conn.cursor() as cur:
            ...

Server::

    from bluegreen_db import create_engine

    engine = create_engine("writer", pool_size=10)

asyncio server (the ``async`` extra)::

    from bluegreen_db import AsyncBlueGreenConsumer, create_async_engine

    engine = await create_async_engine("writer", pool_size=10)

Django (the ``django`` extra, not part of the Lambda layer): ``"ENGINE": "bluegreen_db_django"``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bluegreen_db.async_consumer import AsyncBlueGreenConsumer
    from bluegreen_db.async_engine import create_async_engine
    from bluegreen_db.consumer import (
        BlueGreenConsumer,
        Snapshot,
        connect,
        current,
        default_consumer,
        get_color,
        get_db_url,
    )
    from bluegreen_db.dburl import DbUrl, build_url, parse_url, redact
    from bluegreen_db.errors import (
        BlueGreenError,
        ParameterInvalidError,
        ParameterMissingError,
        ParameterStoreAccessDeniedError,
        ParameterStoreDecryptError,
        ParameterStoreError,
        ParameterStoreThrottledError,
        ParameterStoreUnavailableError,
        RefreshTimeoutError,
        TlsError,
        UnsupportedSchemeError,
    )
    from bluegreen_db.naming import Color, ParameterNames, Role, other_color, parse_color, resolve_prefix
    from bluegreen_db.sqlalchemy_engine import create_engine
    from bluegreen_db.tls import TlsSettings

_EXPORTS: dict[str, str] = {
    "AsyncBlueGreenConsumer": "async_consumer",
    "create_async_engine": "async_engine",
    "BlueGreenConsumer": "consumer",
    "BlueGreenError": "errors",
    "ParameterInvalidError": "errors",
    "ParameterMissingError": "errors",
    "ParameterStoreAccessDeniedError": "errors",
    "ParameterStoreDecryptError": "errors",
    "ParameterStoreError": "errors",
    "ParameterStoreThrottledError": "errors",
    "ParameterStoreUnavailableError": "errors",
    "RefreshTimeoutError": "errors",
    "TlsError": "errors",
    "UnsupportedSchemeError": "errors",
    "TlsSettings": "tls",
    "Snapshot": "consumer",
    "connect": "consumer",
    "current": "consumer",
    "default_consumer": "consumer",
    "get_color": "consumer",
    "get_db_url": "consumer",
    "DbUrl": "dburl",
    "build_url": "dburl",
    "parse_url": "dburl",
    "redact": "dburl",
    "Color": "naming",
    "ParameterNames": "naming",
    "Role": "naming",
    "other_color": "naming",
    "parse_color": "naming",
    "resolve_prefix": "naming",
    "create_engine": "sqlalchemy_engine",
}

__all__ = [
    "AsyncBlueGreenConsumer",
    "BlueGreenConsumer",
    "BlueGreenError",
    "Color",
    "DbUrl",
    "ParameterInvalidError",
    "ParameterMissingError",
    "ParameterNames",
    "ParameterStoreAccessDeniedError",
    "ParameterStoreDecryptError",
    "ParameterStoreError",
    "ParameterStoreThrottledError",
    "ParameterStoreUnavailableError",
    "RefreshTimeoutError",
    "Role",
    "Snapshot",
    "TlsError",
    "TlsSettings",
    "UnsupportedSchemeError",
    "build_url",
    "connect",
    "create_async_engine",
    "create_engine",
    "current",
    "default_consumer",
    "get_color",
    "get_db_url",
    "other_color",
    "parse_color",
    "parse_url",
    "redact",
    "resolve_prefix",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later lookups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
