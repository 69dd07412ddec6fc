"""One module per scenario, each a ``run(harness)``; ``UNDER_LOAD`` lists the table's rows in order."""

from __future__ import annotations

from collections.abc import Callable

from ..harness import Harness
from ..results import Result
from . import asyncio_server, in_place, layer, postgresql, preforked, seed

# --only name -> the scenario, in the order the table prints them
UNDER_LOAD: dict[str, Callable[[Harness], Result]] = {
    "layer": layer.run,
    "postgres": postgresql.run,
    "inplace": in_place.run,
    "seed": seed.run,
    "prefork": preforked.run,
    "asyncio": asyncio_server.run,
}
