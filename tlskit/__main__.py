"""`python -m tlskit` is the `tlskit` command."""

from tlskit.cli import main

raise SystemExit(main())
