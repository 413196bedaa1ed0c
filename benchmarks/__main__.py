"""`python -m benchmarks`: the same as `stargan-rt bench`."""

import sys

from .cli import main

sys.exit(main())
