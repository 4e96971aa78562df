"""``python -m cappuccino_ray`` runs the CLI."""

import sys

from cappuccino_ray.cli import main

sys.exit(main())
