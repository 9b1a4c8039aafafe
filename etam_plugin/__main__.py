"""`python -m etam_plugin` is the same as the `etam-plugin` console script."""

from etam_plugin.cli import main

raise SystemExit(main())
