"""``python -m services.api serve``: a shim over services.api.app:main."""

from services.api.app import main

if __name__ == "__main__":
    raise SystemExit(main())
