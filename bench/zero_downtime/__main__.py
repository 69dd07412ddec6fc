"""The command line: which scenarios run, with which load, in which order; then the report."""

from __future__ import annotations

import argparse
import sys
import time

from . import __doc__ as package_doc
from .harness import Harness
from .report import print_cold, print_hung, print_table
from .results import Result
from .scenarios import UNDER_LOAD, cold_read, hung_parameter_store


def run(args: argparse.Namespace) -> None:
    started = time.monotonic()
    harness = Harness(args)
    only = set(args.only.split(","))
    results: list[Result] = []
    hung: dict[str, list[float]] = {}
    cold: dict[str, float] | None = None
    with harness.stack():
        results = [scenario(harness) for name, scenario in UNDER_LOAD.items() if name in only]
        if "hung" in only:
            hung = hung_parameter_store.run(harness)
        if "cold" in only:
            cold = cold_read.run(harness)
    if results:
        print_table(results, cold, args.delay_ms)
    else:
        print_cold(cold, args.delay_ms)
    if hung:
        print_hung(hung)
    print(f"\ntotal bench time {time.monotonic() - started:.1f}s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(package_doc or "").split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=16, help="concurrent workers K (>= 16)")
    parser.add_argument("--rotations", type=int, default=3, help="rotations R in the layer scenario (>= 3)")
    parser.add_argument("--ttl", type=float, default=1.0, help="consumer cache TTL, seconds")
    parser.add_argument("--grace", type=int, default=2, help="ROTATION_GRACE_SECONDS (just above the TTL)")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="simulated network delay per AWS call")
    parser.add_argument("--cold-samples", type=int, default=15)
    parser.add_argument("--processes", type=int, default=3, help="preforked scenario: worker processes")
    parser.add_argument(
        "--threads", type=int, default=4, help="preforked scenario: engine threads per process"
    )
    parser.add_argument("--hung-callers", type=int, default=8, help="hung scenario: concurrent callers")
    parser.add_argument("--hung-calls", type=int, default=20, help="hung scenario: calls per caller")
    parser.add_argument(
        "--hung-read-timeout", type=float, default=2.0, help="hung scenario: botocore read timeout, s"
    )
    parser.add_argument(
        "--only",
        default="layer,postgres,inplace,seed,prefork,asyncio,hung,cold",
        help="comma-separated scenarios to run (default: all)",
    )
    args = parser.parse_args(argv)
    if args.grace <= args.ttl:
        parser.error("--grace must be above --ttl: a consumer must refresh within the grace period")
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
