"""Shim: ``python -m services.aggregator {serve,replay}``."""

from services.aggregator.app import main

raise SystemExit(main())
