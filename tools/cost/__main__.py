"""``python -m tools.cost``: see tools/cost/__init__.py."""

import sys

from tools.cost import main

sys.exit(main())
