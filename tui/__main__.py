"""`python -m tui`: the same as the pqw-tui command."""

import sys

from tui.app import main

sys.exit(main())
