"""Zero-downtime benchmark of the consumer side, on the real local stack.

    python -m bench.zero_downtime [--workers 16] [--rotations 3] [--ttl 1] [--delay-ms 20]
                                  [--processes 3] [--threads 4] [--only layer,prefork,...]

Starts Debian's MariaDB and moto's server (``bluegreen_ops.devstack``; Debian's PostgreSQL 15 too when
the ``postgres`` scenario runs), then runs the same load,
K concurrent workers querying ``SELECT CURRENT_USER()`` in a loop (half Lambda-style, a new connection
per operation; half server-style, four threads per SQLAlchemy engine pool), through each scenario while
the database credentials change under it.

Time is compressed like the TTL and the grace period: server pools recycle connections after 3 s in
every scenario (a stand-in for the reconnects real servers make: recycling, restarts, scale-out).
Convergence after a flip is measured from the start of the rotation's finishSecret (which writes the
flag last) until no worker starts an operation with the old color any more.

The modules, one job each:

* ``load``: the workers, their operations and the threads that run them.
* ``rotations``: the real rotation handler driven through ``RotationDriver``, spaced by the grace period.
* ``harness``: the stack, one seeded application per scenario, the load kept running while changes happen.
* ``baselines``: what consumers do without this project (credentials read once at start-up, the seed
  post's read-once layer, a cache holding one lock across its Parameter Store call).
* ``results``: one scenario's operations and flips, and the convergence measured from them.
* ``scenarios/``: one module per scenario, each a ``run(harness)``: ``layer``, ``postgresql`` (the layer
  scenario on PostgreSQL, ``--only postgres``), ``in_place``, ``seed``
  (the two baselines under load), ``preforked``, ``asyncio_server``, ``hung_parameter_store``,
  ``cold_read``.
* ``report``: the tables.
* ``__main__``: the command line, the order the scenarios run in.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

# ``app`` (the rotation function's entry point) lives in rotation_lambda/, as in the Lambda package.
# Set here, before any scenario module imports it, like the environment below.
_FUNCTION_DIR = str(Path(__file__).resolve().parents[2] / "rotation_lambda")
if _FUNCTION_DIR not in sys.path:
    sys.path.insert(0, _FUNCTION_DIR)

# The rotation function logs and emits metrics on stdout; keep the bench's own output readable.
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
os.environ.setdefault("LOG_LEVEL", "ERROR")
