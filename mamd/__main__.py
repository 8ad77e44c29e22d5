"""`python -m mamd` is the same as the `mamd` command."""

from mamd.cli import main

raise SystemExit(main())
