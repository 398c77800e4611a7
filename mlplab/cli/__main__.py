"""`python -m mlplab.cli`: the same as the `mlplab` command."""
import sys

from . import main

sys.exit(main())
