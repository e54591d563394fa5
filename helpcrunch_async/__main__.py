"""``python -m helpcrunch_async``: the ``helpcrunch`` command."""

import sys

from ._cli import main

sys.exit(main())
