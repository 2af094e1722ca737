"""``python -m services.auth serve|fake-github``: a shim over :func:`services.auth.app.main`."""

from services.auth.app import main

main()
