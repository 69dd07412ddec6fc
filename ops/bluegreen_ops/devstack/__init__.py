"""What stands in for AWS and the database on this machine (tests, the demo, bench, ``bluegreen local``).

The throwaway pieces live as long as the process that starts them:

* :mod:`.mariadb`: Debian's MariaDB in a temp datadir, with an admin (master) user;
* :mod:`.postgresql`: Debian's PostgreSQL 15 in a temp dir, with an Aurora-shaped master role;
* :mod:`.tls`: a throwaway CA and server certificate, so MariaDB serves TLS;
* :mod:`.moto_server`: moto's server for Secrets Manager and Parameter Store (the ``local`` extra);
* :mod:`.seeding`: an application database and its app and master secrets, on either server
  (:mod:`.postgresql_seeding` is PostgreSQL's shape: tables of a shared NOLOGIN owner role;
  :mod:`.app_database` what either returns);
* :mod:`.network`, :mod:`.environ`: loopback ports, temporary environment variables;
* :mod:`.engines`: the ``ENGINE`` words (``mariadb``, ``postgres``, ...) of the demo, the local stack,
  ``make invoke`` and bench, each naming the server that stands in for its Aurora engine.

:mod:`.persistent_stack` runs the same servers detached (``bluegreen local up|down|env``).
:mod:`.secrets_manager_driver` plays Secrets Manager's part in a rotation (moto never invokes a
rotation function); :mod:`.function` finds the function's handler in this checkout;
:mod:`.faults` holds the outside world's faults (a Parameter Store that stops answering) that bench/
and tests/ both provoke. Nothing here imports the operations or the CLI (``make demo``, which adopts a
secret, is :mod:`bluegreen_ops.demo`, an entry point beside the CLI).
"""
