"""``python -m services.ingest``: a shim calling :func:`services.ingest.app.main`."""

import sys

from services.ingest.app import main

sys.exit(main())
