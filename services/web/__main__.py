"""Shim: ``python -m services.web`` runs :func:`services.web.app.main`."""

from services.web.app import main

if __name__ == "__main__":
    main()
