"""``python -m bluegreen_ops.sam_local``: ``make invoke``."""

from bluegreen_ops.sam_local.flow import main

raise SystemExit(main())
