"""One scenario's outcome: every worker's operations, the flips, and the figures read from them."""

from __future__ import annotations

from dataclasses import dataclass

from .load import Op, Worker


@dataclass
class Result:
    name: str
    workers: list[Worker]
    flips: list[tuple[float, str]]  # (when the flag changed, the user it names from then on)
    end: float
    ps_calls: int | None = None  # Parameter Store calls by the consumers
    ps_refreshes: int | None = None  # snapshot refreshes (or cold starts) by the consumers
    note: str = ""

    def ops(self, kind: str | None = None) -> list[Op]:
        return [op for w in self.workers if kind in (None, w.kind) for op in w.ops]

    def failures(self, kind: str | None = None) -> int:
        return sum(1 for op in self.ops(kind) if op.user is None)

    def convergence(self, kind: str | None = None) -> list[float | None]:
        """Per flip: seconds until no worker starts an operation with the old color any more.

        That is the start of the last operation, begun after the flip and before the next one, that
        did not log in as the flag's new color (a failure counts as not converged), or 0 when there
        is none. ``None`` (never): a worker's last operation in the window still was not on the new
        color. Operation starts, not ends, are used: an operation in flight at the switch is work in
        progress, not a stale read, and on this single-process stack one can take half a second.
        """
        out: list[float | None] = []
        for i, (t_flip, user) in enumerate(self.flips):
            until = self.flips[i + 1][0] if i + 1 < len(self.flips) else self.end
            worst: float | None = 0.0
            for w in self.workers:
                if kind not in (None, w.kind):
                    continue
                window = [op for op in w.ops if t_flip <= op.start < until]
                if not window:
                    continue
                if window[-1].user != user:
                    worst = None
                    break
                stale = [op.start for op in window if op.user != user]
                if stale:
                    worst = max(worst or 0.0, max(stale) - t_flip)
            out.append(worst)
        return out
