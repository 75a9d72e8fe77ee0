"""`python -m xstilts.cli`: the same as the `xstilts` command."""

import sys

from . import main

sys.exit(main())
