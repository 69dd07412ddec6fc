"""``make invoke`` (``python -m bluegreen_ops.sam_local``): rotations through containers, printed.

Runs the functions of ``template.yaml`` the way SAM CLI users test them, ``sam local invoke <Function>
-e <event> --env-vars <file>``, against the local stack (MariaDB, or PostgreSQL 15 with ``--engine
postgres``, and moto) instead of an AWS account:
the service's configuration test first (testSecret alone, as ``RotateImmediately=false`` runs it), then
two rotations by default (the second flips the flag back), each followed by the example consumer.
Everything started is stopped on the way out, failure, Ctrl-C or SIGTERM alike.
"""

from __future__ import annotations

import argparse
import json
import signal
import time
from collections.abc import Sequence
from typing import Any

from bluegreen_ops.devstack.engines import LABELS, local_engine

from .errors import DockerUnavailableError, SamLocalError
from .rotation import StepOutcome, local_rotation
from .sam import function_log_lines


def _say(message: str = "") -> None:
    print(message, flush=True)  # noqa: T201 - main's progress output


def _print_step(outcome: StepOutcome) -> None:
    result = json.dumps(outcome.payload) if outcome.payload is not None else "null"
    _say(f"--- {outcome.function} {outcome.step}: {result} ({outcome.seconds:.1f} s)")
    for line in function_log_lines(outcome.logs):
        _say(f"    {line.rstrip()}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bluegreen_ops.sam_local",
        description="Rotate the local stack's secret through `sam local invoke` containers (make invoke).",
    )
    parser.add_argument(
        "--rotations",
        type=int,
        default=2,
        help="rotations to run; the second flips the flag back (default 2)",
    )
    parser.add_argument("--no-consumer", action="store_true", help="skip invoking ConsumerFunction")
    parser.add_argument(
        "--engine",
        default="mariadb",
        help="mariadb (default) or postgres: the database server the secret lives on",
    )
    args = parser.parse_args(argv)
    try:
        engine = local_engine(args.engine)
    except ValueError as exc:
        parser.error(str(exc))

    # SIGTERM (CI's stop, `kill`) unwinds like Ctrl-C, so every cleanup runs.
    def _interrupt(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    _say(f"engine: {LABELS[engine]}")
    try:
        with local_rotation(log=_say, db_engine=engine) as rotation:
            _say(f"secret {rotation.app.secret_arn}")
            _say("\n=== configuration test (RotateImmediately=false: testSecret on a copy of AWSCURRENT) ===")
            tested = rotation.configuration_test(on_step=_print_step)
            _say(f"configuration test {tested.token} passed in {tested.seconds:.1f} s; nothing changed")
            for n in range(1, args.rotations + 1):
                _say(f"\n=== rotation {n} of {args.rotations} ===")
                outcome = rotation.rotate(on_step=_print_step)
                for title, state in (("before:", outcome.before), ("after:", outcome.after)):
                    _say(title)
                    for line in state.lines():
                        _say(f"  {line}")
                _say(
                    f"rotation {outcome.token} done in {outcome.seconds:.1f} s "
                    f"({outcome.before.flag or 'no flag'} -> {outcome.after.flag})"
                )
                if not args.no_consumer:
                    _print_step(rotation.consumer())
    except DockerUnavailableError as exc:
        _say(f"cannot run Docker's engine here: {exc}")
        return 2
    except SamLocalError as exc:
        _say(f"FAILED: {exc}")
        return 1
    except KeyboardInterrupt:
        _say("interrupted; the engine, the stack and the temp dirs were removed")
        return 130
    _say(f"\nall done in {time.monotonic() - started:.1f} s; engine, stack and temp dirs removed")
    return 0
