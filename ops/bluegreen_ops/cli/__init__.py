"""``bluegreen``: the operator CLI of the blue/green rotation.

Commands: ``status``, ``rotate-now``, ``adopt``, ``rollback``, ``repair``, ``local up|down|env``.
AWS CLI conventions: ``--secret-id``,
``--region``, ``--profile``, ``--output json|table``; clients are plain boto3 clients, so
``AWS_ENDPOINT_URL`` points them at a local stack. The database TLS settings, the URL scheme, the
grace period and the default parameter prefix come from the same variables as the function's.

Exit codes: 0 ok (status: consistent), 1 failure, 2 usage, 3 status found an inconsistent state,
4 refused by a safety check (nothing changed). With ``--output json`` every outcome, usage errors
included, is exactly one JSON document on stdout (docs/cli-json.md). See docs/runbook.md.

Click only: each command reads its options, calls one operation (:mod:`bluegreen_ops.operations`,
:mod:`bluegreen_ops.status`) and renders what it returns. One module per command (:mod:`.status`,
:mod:`.rotate_now`, :mod:`.adopt`, :mod:`.rollback`, :mod:`.repair`, :mod:`.local`); what they share:
:mod:`.options` (the AWS CLI's options and the run they build), :mod:`.render` (masked output, JSON
documents), :mod:`.error_handling` (each failure as one ``error:`` line and its exit code, the codes
being :mod:`bluegreen_ops.exit_codes`) and :mod:`.group` (usage errors as JSON too). Nothing imports
this package: ``bluegreen = "bluegreen_ops.cli:main"`` is its entry point.
"""

from __future__ import annotations

from .adopt import adopt_command
from .group import main
from .local import local
from .repair import repair_command
from .rollback import rollback_command
from .rotate_now import rotate_now
from .status import status

for _command in (status, rotate_now, adopt_command, rollback_command, repair_command, local):
    main.add_command(_command)

__all__ = ["main"]
