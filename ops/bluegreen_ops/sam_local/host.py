"""The host: whether Docker's engine can run here at all, and the Debian packages the flow needs."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from .procs import Log, need, run, stderr_log, which

# Debian packages the engine and the image recipe need: binary -> package.
HOST_PACKAGES = {
    "dockerd": "docker.io",
    "docker": "docker.io",
    "debootstrap": "debootstrap",
    "ip": "iproute2",
}


def _missing_packages() -> list[str]:
    return sorted({pkg for binary, pkg in HOST_PACKAGES.items() if not which(binary)})


def docker_unavailable_reason() -> str | None:
    """Why Docker's engine cannot run here at all, or None when it can be tried."""
    if sys.platform != "linux":
        return f"Docker's engine needs Linux, this is {sys.platform}"
    if os.geteuid() != 0:
        return "starting dockerd needs root"
    cgroup = Path("/sys/fs/cgroup")
    if not cgroup.is_dir() or not any(cgroup.iterdir()):
        return "no cgroup filesystem is mounted at /sys/fs/cgroup"
    if not Path("/proc/self/ns/net").exists():
        return "the kernel has no network namespaces"
    missing = _missing_packages()
    if missing and not which("apt-get"):
        return f"{', '.join(missing)} missing and no apt-get to install them"
    return None


def ensure_host_packages(log: Log = stderr_log) -> None:
    """Installs Debian's docker.io, debootstrap and iproute2 when missing (root, apt)."""
    missing = _missing_packages()
    if not missing:
        return
    started = time.monotonic()
    log(f"installing Debian packages: {' '.join(missing)}")
    apt = need("apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run([apt, "update", "-qq"], env=env)
    run([apt, "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)
    log(f"  installed in {time.monotonic() - started:.1f} s")
