"""The whole two-phase job and its report: ``python run_two_phase.py [--mini] [--resume] ...``."""

import sys

from cappuccino_ray.cli import main

if __name__ == "__main__":
    sys.exit(main(["run", *sys.argv[1:]]))
