"""The stand-in for the Lambda python3.12 image, so no container registry is needed.

``container/build-image.sh`` builds it from Debian packages and PyPI and tags it by the hash of its
recipe; the root filesystem is cached in ``~/.cache/bluegreen-rotation``, so a fresh engine imports it
in seconds and it is rebuilt only when the recipe changes. SAM layers its runtime interface emulator on
top (``--invoke-image <tag> --skip-pull-image``).
"""

from __future__ import annotations

# The recipe runs as an argument list of fixed paths, never through a shell.
import subprocess  # nosec B404
import time

from .engine import DockerEngine
from .errors import SamLocalError
from .paths import REPO_ROOT
from .procs import Log, need, run, stderr_log

BUILD_SCRIPT = REPO_ROOT / "container" / "build-image.sh"


def image_tag() -> str:
    """The tag ``container/build-image.sh`` builds: derived from the hash of the recipe."""
    return run([need("bash"), BUILD_SCRIPT, "--print-tag"]).stdout.strip()


def ensure_image(engine: DockerEngine, log: Log = stderr_log) -> str:
    """Builds the stand-in Lambda python3.12 image in ``engine`` unless present; returns its tag.

    The first build (debootstrap, CPython, awslambdaric) takes about a minute and leaves the root
    filesystem in the cache; a new engine imports it in seconds.
    """
    started = time.monotonic()
    log("ensuring the stand-in Lambda image (container/build-image.sh)")
    # An argument list of fixed paths, no shell. Not procs.run: the script's progress lines go
    # straight to our stderr while it works, only its stdout (the tag) is captured.
    proc = subprocess.run(  # noqa: S603  # nosec B603
        [need("bash"), str(BUILD_SCRIPT)],
        env=engine.env(),
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        check=False,
        timeout=900,
    )
    if proc.returncode != 0:
        raise SamLocalError(f"container/build-image.sh exited {proc.returncode}")
    tag = proc.stdout.strip().splitlines()[-1]
    log(f"image {tag} ready in {time.monotonic() - started:.1f} s")
    return tag
