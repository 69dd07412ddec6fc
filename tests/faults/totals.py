"""How much fault injection a session did, for the safety conftest's terminal summary.

The tests add to :data:`COVERAGE` (directly, or through :func:`count`) as they record calls and run
points; ``tests/integration/safety/conftest.py`` prints the totals. Kept apart so the summary needs
nothing else of the package.
"""

from __future__ import annotations

# Totals across the session, printed by the safety conftest's terminal summary.
COVERAGE: dict[str, int] = {}


def count(key: str, n: int = 1) -> None:
    COVERAGE[key] = COVERAGE.get(key, 0) + n
