"""The operator's operations, as library functions: they read and write, and never print.

Each takes an :class:`~.env.Env` (clients, settings, a :class:`~.reporting.Reporter`) and returns
an outcome or raises an :class:`~.errors.OperationError` carrying its exit code. One job per module:

* :mod:`.errors`: refusals and failures, and what a failed rotation left staged;
* :mod:`.reporting`: where progress goes, and the credentials output must mask;
* :mod:`.clients`: plain boto3 clients (``AWS_ENDPOINT_URL*`` redirect them), the function's variables;
* :mod:`.env`: one run's clients, settings and reporter, and the names derived from the secret;
* :mod:`.secret_reads`: DescribeSecret and versions parsed by the function's own parser;
* :mod:`.fleet`: which secrets one rotation function rotates (ListSecrets by tag or by function);
* :mod:`.guard_settings`: the grace and session policy the deployed function runs with;
* :mod:`.urls`: how a mirrored URL compares with a version of the secret;
* :mod:`.forecast`: what setSecret will say to a rotation started now (the function's guards);
* :mod:`.durations`: durations as an operator reads them;
* :mod:`.writes`: the login check before a write, the URL and flag writes, their outcome;
* :mod:`.adopt`, :mod:`.rollback`, :mod:`.repair`: the three commands that write the mirror by hand;
* :mod:`.rotate_now`: rotate-now's pre-check and start; :mod:`.watcher` follows a rotation on AWS;
  :mod:`.local_rotation` runs the four steps in this process (``--local``).
"""
