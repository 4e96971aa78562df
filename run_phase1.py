"""Phase 1 (holding time x interval search): ``python run_phase1.py [--mini] [--resume] ...``."""

import sys

from cappuccino_ray.cli import main

if __name__ == "__main__":
    sys.exit(main(["phase1", *sys.argv[1:]]))
