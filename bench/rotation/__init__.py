"""Rotation benchmark: time per step, AWS calls and database work per rotation, cold import time.

Runs on the real local stack (MariaDB or PostgreSQL 15, and moto's server). In the same run, on the
same server, it measures a baseline: AWS's documented multi-user rotation algorithm for that engine,
without the Parameter Store mirror (bench/baseline_multiuser.py for MySQL, bench/baseline_multiuser_pg.py
for PostgreSQL). Prints medians and ratios, one table per engine; asserts nothing.

    make bench            # or: python -m bench.rotation --rotations 40 --engine postgresql|mysql|both

The modules: ``measure`` (rotations counted and timed, cold imports in fresh interpreters),
``report`` (the tables), ``__main__`` (the stack, the two functions, the order of the measurements).
"""
