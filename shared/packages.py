"""PEP 503 package-name normalisation and validation.

Owns the one rule every service uses to turn a user-supplied project name into the key stored in
the database: ``re.sub(r"[-_.]+", "-", name).lower()``. The special package ``__all__`` (every
package summed) is exempt. Validation rejects what can never be a PyPI project name, so that
hostile input fails early with a clear message instead of reaching SQL or templates.
"""

from __future__ import annotations

import re

ALL_PACKAGES = "__all__"

#: PyPI's own limit on project names is far below this; anything longer is hostile or a typo.
MAX_NAME_LENGTH = 200

# PEP 508 / core metadata: ASCII letters and digits, with ., _ and - allowed between them.
_VALID_NAME = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])$", re.IGNORECASE)
_SEPARATORS = re.compile(r"[-_.]+")


class InvalidPackageName(ValueError):
    """Raised for a string that cannot be a PyPI project name."""


def normalize(name: str) -> str:
    """Return the PEP 503 normalised form of ``name`` (``__all__`` is returned unchanged)."""
    if name == ALL_PACKAGES:
        return name
    return _SEPARATORS.sub("-", name).lower()


def validate(name: str) -> str:
    """Validate ``name`` and return its normalised form, or raise :class:`InvalidPackageName`."""
    if name == ALL_PACKAGES:
        return name
    if not name:
        raise InvalidPackageName("package name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidPackageName(f"package name is longer than {MAX_NAME_LENGTH} characters")
    if not _VALID_NAME.match(name):
        raise InvalidPackageName(
            "package name may only contain ASCII letters, digits, '.', '_' and '-', "
            "and must start and end with a letter or digit"
        )
    return normalize(name)


def is_normalized(name: str) -> bool:
    """True when ``name`` is already in canonical form."""
    return normalize(name) == name
