"""bench/overhead.py on the real cell: ghc96 x Ganeti 3.1, both flavors, the tool against the same
containers typed by hand (one pair: about 12 minutes on 2 cores; not run in CI).

    python bench/ganeti.py [--toolchain ghc96] [--source ganeti-3.1] [--pairs 1]
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from overhead import main

if __name__ == "__main__":
    main(matrix=ROOT / "matrix.yaml", source="ganeti-3.1", pairs=1)
