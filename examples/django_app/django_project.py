"""Example one-file Django app on the ``bluegreen_db_django`` backend.

Needs the ``django`` extra (``pip install 'bluegreen-rotation[django]'``) and the consumer's usual
environment: ``PARAMETER_PREFIX`` (or ``ENV``), AWS credentials and region, and TLS settings
(``BLUEGREEN_DB_TLS_MODE``, ``BLUEGREEN_DB_TLS_CA_FILE``: verify-full by default). Run::

    python examples/django_app/django_project.py runserver 8000
    curl localhost:8000/who      # the database user of the flag's current color

Through a rotation (``bluegreen rotate-now``) the answer moves to the new color; persistent
connections (``CONN_MAX_AGE``) of the old color are closed by the backend, so the rotation's
``ACTIVE_SESSION_POLICY=fail`` check finds none.
"""

from __future__ import annotations

import os
import sys

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path


def who(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cur:
        cur.execute("SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)")
        (user,) = cur.fetchone()
    return HttpResponse(f"{user}\n", content_type="text/plain")


urlpatterns = [path("who", who)]

settings.configure(
    DEBUG=False,
    SECRET_KEY=os.environ.get("DJANGO_SECRET_KEY", "example-only-change-me"),
    ALLOWED_HOSTS=["localhost", "127.0.0.1"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[],
    MIDDLEWARE=[],
    DATABASES={
        "default": {
            "ENGINE": "bluegreen_db_django",
            "NAME": "",  # the URL's database
            "CONN_MAX_AGE": 60,
            "BLUEGREEN": {"role": os.environ.get("BLUEGREEN_ROLE", "writer")},
        }
    },
)

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
