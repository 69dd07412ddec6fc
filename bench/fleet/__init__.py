"""Fleet benchmark: N secrets rotating at once against Parameter Store's PutParameter throughput quota.

    python -m bench.fleet [--sizes 1,10,50] [--rate 40] [--attempts 3] [--retry-delay 1]

One rotation function serves a fleet (template.yaml's FleetByTag); when many of its secrets rotate in
the same window, their finishSecret writes (two URLs and the flag, each a PutParameter) share the
account's Parameter Store throughput. AWS documents that throughput as a per-account, per-Region
quota on GetParameter, GetParameters and PutParameter transactions per second, answered with
``ThrottlingException: Rate exceeded`` when exceeded ("Changing Parameter Store throughput",
https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-throughput.html; the
figures are in "AWS Systems Manager endpoints and quotas",
https://docs.aws.amazon.com/general/latest/gr/ssm.html). ``--rate`` defaults to 40 per second, the
standard-throughput figure; the proxy enforces it on PutParameter alone, so the reads the rotation
makes do not eat into it here as they would on AWS (a conservative stand-in, not a pessimistic one).

For each N the bench seeds N secrets (each with its own database, users and ``parameterPrefix``),
rotates them all once unthrottled to warm up (the first rotation creates each partner user), then
measures two rounds of N rotations started together, one thread per secret, each through
``RotationDriver`` and the real handler. N Lambdas run in parallel; this one interpreter runs them
slower, so a gate (``scenarios.FinishGate``) lets every rotation's finishSecret start together, as
on AWS the N finishSecrets of one schedule land in the same moment:

* the baseline: Parameter Store unthrottled (the proxy only counts);
* throttled: :class:`~bluegreen_ops.devstack.faults.ThrottlingProxy` in front of moto's Parameter
  Store answers PutParameter above ``--rate`` per second with HTTP 400 and AWS's JSON error body.

Reported per round: total time, PutParameter answers (accepted / throttled), throttles absorbed by
the SDK's own retries, SDK calls that gave up (still throttled after botocore's attempts) and how many
of those failed their step, rotations the driver had to retry (the service's retry), and rotations
that failed (0 expected). Asserts nothing.

The modules, one job each: ``harness`` (the stack, the proxy, the seeded fleet), ``scenarios`` (a
round of N concurrent rotations and what it counts), ``baselines`` (the unthrottled round),
``report`` (the table), ``__main__`` (the command line and the order of the rounds).
"""

from __future__ import annotations

import os

# The rotation function logs and emits metrics on stdout; keep the bench's own output readable.
os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "CRITICAL")
os.environ.setdefault("LOG_LEVEL", "CRITICAL")
