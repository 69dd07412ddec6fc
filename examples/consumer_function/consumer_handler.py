"""Example consumer Lambda: reads the live color and its URLs through the shared ``bluegreen_db`` layer.

The layer (``ConsumerLayer``, ``layer/python/bluegreen_db``) lands in ``/opt/python``, which is on the
runtime's import path; this function ships no copy of it. It returns the color the flag names, where
the layer was imported from, and the color's URLs with the password masked. When PyMySQL is in the
deployment package (``requirements.txt`` beside this file), it also logs in with the writer URL and
reports the database user it got, which proves the URL holds working credentials.

The login uses the layer's TLS settings: ``BLUEGREEN_DB_TLS_MODE`` (default ``verify-full``) and
``BLUEGREEN_DB_TLS_CA_FILE`` (for Aurora, the RDS CA bundle shipped with the function).

Any event will do (``{}``; ``{"skip_login": true}`` skips the login):
``echo '{}' | sam local invoke ConsumerFunction -e - --env-vars events/env.json``.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import bluegreen_db


def _login_check() -> dict[str, Any]:
    if importlib.util.find_spec("pymysql") is None:
        return {"checked": False, "reason": "PyMySQL is not in this deployment package"}
    with bluegreen_db.connect("writer") as conn, conn.cursor() as cur:
        cur.execute("SELECT CURRENT_USER()")
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
        result["login"] = _login_check()
    print(f"live color {snapshot.color}; bluegreen_db from {bluegreen_db.__file__}")  # noqa: T201
    return result
