"""``bluegreen status``: facts gathered read-only, a verdict from one function per diagnosis rule.

* :mod:`.report`: the facts per version and per URL, the problems and the verdict;
* :mod:`.facts`: :func:`~.facts.inspect` reads the secret, the mirror and the database;
* :mod:`.rules`: one function per diagnosis rule, in the order they are reported;
* :mod:`.diagnosis`: the model: problems, their severities and ranking, the grace period;
* :mod:`.fleet`: ``status --all``: every secret of a fleet through :func:`~.facts.inspect`;
* :mod:`.render`: the report (and a fleet's) as the JSON document and as the table.
"""
