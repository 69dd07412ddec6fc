"""The errors of the local Lambda flow, each telling the caller what to do about it."""

from __future__ import annotations

from typing import Any


class DockerUnavailableError(RuntimeError):
    """Docker's engine cannot run on this machine at all (not root, no cgroups, ...)."""


class SamLocalError(RuntimeError):
    """A step of the local flow failed; the message carries the tool's own output."""


class InvokeError(SamLocalError):
    """``sam local invoke`` failed, or the function returned an error payload."""

    def __init__(self, message: str, payload: Any, logs: str) -> None:
        super().__init__(f"{message}\n--- logs ---\n{logs[-6000:]}")
        self.payload = payload
        self.logs = logs
