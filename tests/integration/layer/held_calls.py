"""A hung Parameter Store for the consumer's integration tests: GetParameters held on an Event.

:class:`HeldGetParameters` registers a botocore ``before-send`` hook on one boto3 client. While held,
every GetParameters waits in the hook until :meth:`HeldGetParameters.release`; then the hook returns
nothing and botocore sends the request to moto as usual. Nothing is mocked and every call reaches the
server; only its timing is the test's to decide, so a test can show that a caller returned while the
call was still held.
"""

from __future__ import annotations

import threading
from typing import Any

HOLD_LIMIT = 30.0  # a held call goes on after this long anyway, so that a broken test fails, not hangs


class HeldGetParameters:
    def __init__(self, client: Any) -> None:
        self.entered = threading.Event()  # a held call has started
        self._release = threading.Event()
        self._release.set()
        client.meta.events.register("before-send.ssm.GetParameters", self._hook)

    def hold(self) -> None:
        """From now on, every GetParameters of the client waits for :meth:`release`."""
        self.entered.clear()
        self._release.clear()

    def release(self) -> None:
        self._release.set()

    @property
    def held(self) -> bool:
        """A call has started and is still waiting to be released."""
        return self.entered.is_set() and not self._release.is_set()

    def _hook(self, **_: Any) -> None:
        if not self._release.is_set():
            self.entered.set()
            self._release.wait(HOLD_LIMIT)
        # None: botocore sends the request (to moto) as it would have
