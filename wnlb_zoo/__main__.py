"""``python -m wnlb_zoo`` runs the ``wnlb-zoo`` command."""

import sys

from .cli.main import main

sys.exit(main())
