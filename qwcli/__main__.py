"""``python -m qwcli``: the same as ``qw``."""

import sys

from qwcli.parser import main

sys.exit(main())
