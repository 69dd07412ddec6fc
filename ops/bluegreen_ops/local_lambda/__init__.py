"""``sam local invoke`` for real, on a machine with no container registry (``make invoke``).

One job per module:

* :mod:`.errors`: what can go wrong, as exception types the entry point maps to exit codes;
* :mod:`.paths`: the repository's files the flow reads, and where SAM CLI and its build live;
* :mod:`.procs`: commands run as argument lists, process trees found and stopped through ``/proc``;
* :mod:`.host`: whether Docker's engine can run here, and the Debian packages it needs;
* :mod:`.bridge`: the private engine's own bridge on a free /24;
* :mod:`.engine`: the private ``dockerd`` in a temp dir, started and removed without a trace;
* :mod:`.image`: the stand-in for the Lambda python3.12 image (``container/build-image.sh``);
* :mod:`.sam`: SAM CLI in ``.venv-sam``, ``sam build`` and ``sam local invoke``;
* :mod:`.rotation`: rotations of the local stack's secret, one ``sam local invoke`` per step;
* :mod:`.flow`: ``make invoke`` itself (``python -m bluegreen_ops.sam_local``) and its output.
"""
