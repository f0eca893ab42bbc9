"""``python -m multirerank``: the same command as ``multirerank``."""

from multirerank.cli import main

raise SystemExit(main())
