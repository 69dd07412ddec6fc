"""The command line: the fleet sizes, the quota, the order of the rounds; then the table."""

from __future__ import annotations

import argparse
import time

from . import __doc__ as package_doc
from .baselines import unthrottled
from .harness import Harness
from .report import print_report
from .scenarios import Round, rotate_round

DEFAULT_RATE = 40.0  # PutParameter per second: Parameter Store's standard throughput (see the docstring)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=(package_doc or "").split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="1,10,50", help="comma-separated fleet sizes N")
    parser.add_argument(
        "--rate", type=float, default=DEFAULT_RATE, help="PutParameter per second before throttling"
    )
    parser.add_argument(
        "--attempts", type=int, default=3, help="the driver's attempts per rotation (the service's retries)"
    )
    parser.add_argument(
        "--retry-delay", type=float, default=1.0, help="seconds the driver waits before a retry"
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    started = time.monotonic()
    rounds: list[Round] = []
    print("starting MariaDB, moto's server and the throttling proxy...")
    with Harness().stack() as harness:
        for size in sizes:
            print(f"N={size}: seeding {size} secret(s), then a warm-up rotation of each...")
            arns = harness.seed_fleet(size)
            rotate_round(
                harness, arns, "warm-up", rate=None, attempts=args.attempts, retry_delay=args.retry_delay
            )
            print(f"N={size}: measuring the unthrottled round, then the throttled one...")
            rounds.append(unthrottled(harness, arns, attempts=args.attempts, retry_delay=args.retry_delay))
            rounds.append(
                rotate_round(
                    harness,
                    arns,
                    f"throttled {args.rate:g}/s",
                    rate=args.rate,
                    attempts=args.attempts,
                    retry_delay=args.retry_delay,
                )
            )
    print_report(rounds, args.rate, args.attempts, time.monotonic() - started)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
