"""`python -m policy_builder`."""

import sys

from policy_builder.cli import main

sys.exit(main())
