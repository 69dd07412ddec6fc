"""Example consumer Lambda: reads the live color and its URLs through the shared ``bluegreen_db`` layer.

The layer (``ConsumerLayer``, ``layer/python/bluegreen_db``) lands in ``/opt/python``, which is on the
runtime's import path; this function ships no copy of it. It returns the color the flag names, where
the layer was imported from, and the color's URLs with the password masked. When the driver the writer
URL's scheme names is in the deployment package (PyMySQL for ``mysql+pymysql``, psycopg for
``postgresql+psycopg``: ``requirements.txt`` beside this file), it also logs in with the writer URL
and reports the database user it got, which proves the URL holds working credentials.

The login uses the layer's TLS settings: ``BLUEGREEN_DB_TLS_MODE`` (default ``verify-full``) and
``BLUEGREEN_DB_TLS_CA_FILE`` (for Aurora, the RDS CA bundle shipped with the function).

Any event will do (``{}``; ``{"skip_login": true}`` skips the login):
``echo '{}' | sam local invoke ConsumerFunction -e - --env-vars events/env.json``.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import bluegreen_db

# The module each URL dialect's driver is imported as (what bluegreen_db.connect() will load).
_DRIVER_MODULES = {"mysql": "pymysql", "postgresql": "psycopg"}


def _login_check(scheme: str) -> dict[str, Any]:
    module = _DRIVER_MODULES.get(scheme.partition("+")[0], scheme)
    if importlib.util.find_spec(module) is None:
        return {"checked": False, "reason": f"{module} is not in this deployment package"}
    with bluegreen_db.connect("writer") as conn, conn.cursor() as cur:
        # Standard SQL without parentheses: MySQL and PostgreSQL both answer it.
        cur.execute("SELECT CURRENT_USER")
        row = cur.fetchone()
    return {"checked": True, "current_user": row[0] if row else None}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    snapshot = bluegreen_db.current()
    result: dict[str, Any] = {
        "color": snapshot.color,
        "layer": bluegreen_db.__file__,
        "writer": snapshot.url("writer").redacted(),
        "reader": snapshot.url("reader").redacted(),
    }
    if not event.get("skip_login"):
        result["login"] = _login_check(snapshot.url("writer").scheme)
    print(f"live color {snapshot.color}; bluegreen_db from {bluegreen_db.__file__}")  # noqa: T201
    return result
