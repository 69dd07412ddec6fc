"""``sam local invoke`` for real, on a machine with no container registry: ``make invoke``.

``python -m bluegreen_ops.sam_local`` builds the functions with ``sam build``, starts a private Docker
engine with the stand-in for the Lambda python3.12 image, and rotates the local stack's secret (MariaDB
and moto) with one ``sam local invoke RotationFunction`` per step, then invokes ``ConsumerFunction``.
The work is done in :mod:`bluegreen_ops.local_lambda`; this module is the entry point and keeps the
names callers (the container integration test) import from here.
"""

from __future__ import annotations

from bluegreen_ops.driver import STEPS
from bluegreen_ops.local_lambda.engine import DockerEngine, docker_engine
from bluegreen_ops.local_lambda.engine import docker_ping as _docker_ping
from bluegreen_ops.local_lambda.errors import DockerUnavailableError, InvokeError, SamLocalError
from bluegreen_ops.local_lambda.flow import main
from bluegreen_ops.local_lambda.host import docker_unavailable_reason
from bluegreen_ops.local_lambda.image import ensure_image, image_tag
from bluegreen_ops.local_lambda.paths import REPO_ROOT
from bluegreen_ops.local_lambda.procs import cmdline as _proc_cmdline
from bluegreen_ops.local_lambda.procs import mounts_below as _mounts_below
from bluegreen_ops.local_lambda.procs import processes_mentioning as _processes_mentioning
from bluegreen_ops.local_lambda.procs import start_time as _proc_start_time
from bluegreen_ops.local_lambda.procs import which as _which
from bluegreen_ops.local_lambda.rotation import LocalRotation, RotationOutcome, StepOutcome, local_rotation
from bluegreen_ops.local_lambda.sam import invoke, sam_build

__all__ = [
    "REPO_ROOT",
    "STEPS",
    "DockerEngine",
    "DockerUnavailableError",
    "InvokeError",
    "LocalRotation",
    "RotationOutcome",
    "SamLocalError",
    "StepOutcome",
    # The integration test's cleanup checks use these process helpers under their former names.
    "_docker_ping",
    "_mounts_below",
    "_proc_cmdline",
    "_proc_start_time",
    "_processes_mentioning",
    "_which",
    "docker_engine",
    "docker_unavailable_reason",
    "ensure_image",
    "image_tag",
    "invoke",
    "local_rotation",
    "main",
    "sam_build",
]

if __name__ == "__main__":
    raise SystemExit(main())
