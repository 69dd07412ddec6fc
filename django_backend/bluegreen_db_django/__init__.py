"""A Django database backend whose new connections log in as the blue/green flag's current color.

Not part of the Lambda layer (``layer/`` is what the layer bundles; this package lives in
``django_backend/`` and ships with the ``django`` extra: ``pip install 'bluegreen-rotation[django]'``)::

    DATABASES = {
        "default": {
            "ENGINE": "bluegreen_db_django",
            "NAME": "",  # the URL's database is used; set NAME to override it
            "CONN_MAX_AGE": 60,
            "OPTIONS": {},  # as for Django's backend (its "ssl"/"sslmode" replace the TLS settings)
            "BLUEGREEN": {  # all optional
                "prefix": "/db/prod",  # default PARAMETER_PREFIX, else /db/{ENV}
                "role": "writer",  # or "reader"
                "ttl": 60,  # default BLUEGREEN_CACHE_TTL
                "tls_mode": "verify-full",  # default BLUEGREEN_DB_TLS_MODE, else verify-full
                "tls_ca_file": "/app/global-bundle.pem",  # default BLUEGREEN_DB_TLS_CA_FILE
            },
        }
    }

Django's own MySQL or PostgreSQL backend (chosen by the URL's scheme, :mod:`bluegreen_db_django.base`)
does the rest; :mod:`bluegreen_db_django.follow` says what is overridden.
"""
