"""``sam local invoke`` for real, on a machine with no container registry: ``make invoke``.

``python -m bluegreen_ops.sam_local`` builds the functions with ``sam build``, starts a private Docker
engine with the stand-in for the Lambda python3.12 image, and rotates the local stack's secret (MariaDB
and moto) with one ``sam local invoke RotationFunction`` per step, then invokes ``ConsumerFunction``.
This package's ``__init__`` holds the names callers (the container integration test) import.

One job per module:

* :mod:`.errors`: what can go wrong, as exception types the entry point maps to exit codes;
* :mod:`.paths`: the repository's files the flow reads, and where SAM CLI and its build live;
* :mod:`.procs`: commands run as argument lists, process trees found and stopped through ``/proc``;
* :mod:`.host`: whether Docker's engine can run here, and the Debian packages it needs;
* :mod:`.bridge`: the private engine's own bridge on a free /24;
* :mod:`.engine`: the private ``dockerd`` in a temp dir, started and removed without a trace;
* :mod:`.image`: the stand-in for the Lambda python3.12 image (``container/build-image.sh``);
* :mod:`.sam`: SAM CLI in ``.venv-sam``, ``sam build`` and ``sam local invoke``;
* :mod:`.rotation`: rotations of the local stack's secret, one ``sam local invoke`` per step;
* :mod:`.flow`: ``make invoke`` itself (``python -m bluegreen_ops.sam_local``) and its output.
"""

from __future__ import annotations

from bluegreen_ops.devstack.secrets_manager_driver import STEPS
from bluegreen_ops.sam_local.engine import DockerEngine, docker_engine
from bluegreen_ops.sam_local.engine import docker_ping as _docker_ping
from bluegreen_ops.sam_local.errors import DockerUnavailableError, InvokeError, SamLocalError
from bluegreen_ops.sam_local.flow import main
from bluegreen_ops.sam_local.host import docker_unavailable_reason
from bluegreen_ops.sam_local.image import ensure_image, image_tag
from bluegreen_ops.sam_local.paths import REPO_ROOT
from bluegreen_ops.sam_local.procs import cmdline as _proc_cmdline
from bluegreen_ops.sam_local.procs import mounts_below as _mounts_below
from bluegreen_ops.sam_local.procs import processes_mentioning as _processes_mentioning
from bluegreen_ops.sam_local.procs import start_time as _proc_start_time
from bluegreen_ops.sam_local.procs import which as _which
from bluegreen_ops.sam_local.rotation import LocalRotation, RotationOutcome, StepOutcome, local_rotation
from bluegreen_ops.sam_local.sam import invoke, sam_build

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
    # The container integration test's cleanup checks import these process helpers by these names.
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
