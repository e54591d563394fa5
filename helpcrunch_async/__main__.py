"""``python -m helpcrunch_async``: the ``helpcrunch`` command."""

import sys

from .cli import main

sys.exit(main())
