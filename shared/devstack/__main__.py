"""``python -m shared.devstack``: the ``make run`` program."""

import sys

from shared.devstack.run import main

sys.exit(main())
