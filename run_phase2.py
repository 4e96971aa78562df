"""Phase 2 (PPO vs double-DQN): ``python run_phase2.py --phase1-results PATH [--mini] ...``."""

import sys

from cappuccino_ray.cli import main

if __name__ == "__main__":
    sys.exit(main(["phase2", *sys.argv[1:]]))
