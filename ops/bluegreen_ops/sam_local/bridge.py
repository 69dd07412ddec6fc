"""The private engine's own bridge: Docker's default bridge for that engine, on a /24 nobody uses.

Containers reach the host only at the bridge's gateway address, so MariaDB and moto listen there.
The bridge is named after the process that created it, so one left by a killed run can be told apart
from a live run's and removed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import random
import re

from .errors import SamLocalError
from .procs import need, pid_alive, run, which

_PREFIX = "bgr"
_SUBNET_POOL = ipaddress.IPv4Network("172.28.0.0/16")
_counter = itertools.count(1)


def _used_networks() -> list[ipaddress.IPv4Network]:
    ip = need("ip")
    used: list[ipaddress.IPv4Network] = []
    for args in (["-4", "-o", "addr", "show"], ["-4", "route", "show", "table", "all"]):
        out = run([ip, *args], check=False).stdout
        for match in re.finditer(r"\b(\d+\.\d+\.\d+\.\d+(?:/\d+)?)\b", out):
            with contextlib.suppress(ValueError):
                used.append(ipaddress.IPv4Network(match.group(1), strict=False))
    return used


def create_bridge() -> tuple[str, str]:
    """A bridge named after this process, on a /24 no interface or route uses yet: (name, gateway)."""
    ip = need("ip")
    name = f"{_PREFIX}{os.getpid()}x{next(_counter)}"
    used = _used_networks()
    candidates = list(_SUBNET_POOL.subnets(new_prefix=24))
    random.shuffle(candidates)
    subnet = next((c for c in candidates if not any(c.overlaps(u) for u in used)), None)
    if subnet is None:
        raise SamLocalError(f"no free /24 in {_SUBNET_POOL} for the engine's bridge")
    gateway = str(next(subnet.hosts()))
    run([ip, "link", "add", "name", name, "type", "bridge"])
    try:
        run([ip, "addr", "add", f"{gateway}/{subnet.prefixlen}", "dev", name])
        run([ip, "link", "set", name, "up"])
    except BaseException:
        delete_bridge(name)
        raise
    return name, gateway


def delete_bridge(name: str) -> None:
    ip = which("ip")
    if ip:
        run([ip, "link", "del", name], check=False)


def reap_stale_bridges() -> None:
    """Deletes the bridges of earlier runs whose process no longer exists."""
    ip = which("ip")
    if not ip:
        return
    links = run([ip, "-o", "link", "show", "type", "bridge"], check=False).stdout
    for match in re.finditer(rf"^\d+: ({_PREFIX}(\d+)x\d+)[:@]", links, re.MULTILINE):
        if not pid_alive(int(match.group(2))):
            delete_bridge(match.group(1))
