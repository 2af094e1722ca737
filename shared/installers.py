"""Which installers count as people: the allowlist of the overall category ``people``.

Owns the one list the BigQuery query (``@people``), the raw and synthetic sources and the docs
read. A download counts as one by people when it is kept (the python filter), is not a mirror's,
is not from CI (``details.ci`` is not true) and its installer is one of :data:`PEOPLE_INSTALLERS`,
the tools people and their projects install packages with. Names are matched exactly as
BigQuery logs them.

Why each is in:

* ``pip``, ``uv``: what people (and their virtualenvs, IDEs and notebooks) install with.
* ``poetry``, ``pdm``, ``pipenv``, ``hatch``, ``rye``: project managers resolving and installing
  a project's dependencies on a developer's machine (in CI, ``details.ci`` removes them).
* ``pipx``: installs applications for a person.
* ``conda``: conda environments installing PyPI packages.
* ``pex``: builds an application's environment at the person's request.

Why everything else is out: ``Browser`` (a page visit or a scraper, not an install), ``requests``
and other HTTP libraries (scripts and bots), ``OS`` (distribution packaging), ``Bazel`` and
``setuptools`` (build systems fetching build-time dependencies), ``twine`` (publishing tools),
the mirrors (bandersnatch, devpi, Artifactory, z3c.pypimirror) and a missing installer
(``NULL``: often mirrors and crawlers).
"""

from __future__ import annotations

from typing import Final

PEOPLE_INSTALLERS: Final = ("pip", "uv", "poetry", "pdm", "pipenv", "pipx", "conda", "hatch", "rye", "pex")
