"""Stopping a local server the way each one asks to be stopped: its own shutdown signal first (MariaDB
finishes on SIGTERM, PostgreSQL's fast shutdown is SIGINT), a kill only when it does not exit in time."""

from __future__ import annotations

import subprocess  # nosec B404 - stops the servers this package started, by their own Popen


def stop_server(process: subprocess.Popen[bytes] | None, shutdown_signal: int) -> None:
    """Sends ``shutdown_signal`` and waits up to 30 s, then kills; a process already gone is left be."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(shutdown_signal)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
