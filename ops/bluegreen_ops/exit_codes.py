"""The ``bluegreen`` CLI's exit codes, and the error kind each stands for in JSON error documents.

They sit below every package that builds a document (operations, status, cli), so the numbers
docs/cli-json.md promises are written once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass


EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INCONSISTENT = 3
EXIT_REFUSED = 4


ERROR_CODES = {
    EXIT_FAILURE: "failed",
    EXIT_USAGE: "usage",
    EXIT_INCONSISTENT: "inconsistent",
    EXIT_REFUSED: "refused",
}
