"""Throttling that botocore retries by itself: :class:`ThrottleOnce`, a ``before-send`` hook.

Unlike the recorder's faults, which sit above botocore's retry loop so the step sees them, this one
sits below it: it checks that a throttled write is absorbed by botocore and never fails a step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@dataclass
class ThrottleOnce:
    """A ``before-send`` hook answering the ``nth`` matching request with a 400 ThrottlingException.

    Unlike a ``before-call`` fault this sits below botocore's retry loop: standard retry mode backs
    off and sends the request again, and the caller never sees the throttle.
    """

    operation: str
    nth: int = 1
    sent: int = 0
    throttled: int = 0

    def __call__(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else str(target)
        if not target.endswith(f".{self.operation}"):
            return None
        self.sent += 1
        if self.throttled or self.sent != self.nth:
            return None
        self.throttled += 1
        body = b'{"__type":"ThrottlingException","message":"Rate exceeded (injected)"}'
        headers = {"x-amzn-RequestId": "injected", "Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, 400, headers, _Raw(body))
