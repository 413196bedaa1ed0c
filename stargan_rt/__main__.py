"""`python -m stargan_rt ...` is the `stargan-rt` command."""

import sys

from .cli import main

sys.exit(main())
