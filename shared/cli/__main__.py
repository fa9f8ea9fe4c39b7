"""``python -m shared.cli``: the same as ``qw``."""

import sys

from shared.cli.parser import main

sys.exit(main())
