"""Run the wnlb-zoo benchmark suite: ``python scripts/benchmark.py [options]`` = ``wnlb-zoo bench [options]``."""

import sys

from wnlb_zoo.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
