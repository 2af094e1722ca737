"""Points the real ``pypistats`` client at a test server: ``PYPISTATS_BASE_URL`` sets its BASE_URL.

Put this directory on ``PYTHONPATH`` of a ``python -m pypistats`` subprocess; Python imports
``sitecustomize`` at start-up, before the CLI runs.
"""

import os

_base = os.environ.get("PYPISTATS_BASE_URL")
if _base:
    import pypistats

    pypistats.BASE_URL = _base
