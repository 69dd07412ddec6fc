"""Rotation benchmark: time per step, AWS calls and database work per rotation, cold import time.

Runs on the real local stack (MariaDB + moto's server). In the same run it measures a baseline: the
documented multi-user rotation algorithm without the Parameter Store mirror (bench/baseline_multiuser.py).
Prints medians and ratios; asserts nothing.

    make bench            # or: python -m bench.rotation --rotations 40

The modules: ``measure`` (rotations counted and timed, cold imports in fresh interpreters),
``report`` (the tables), ``__main__`` (the stack, the two functions, the order of the measurements).
"""
