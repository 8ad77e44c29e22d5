"""`python -m mamd.sim.mam`: serve the simulator alone (see `app` for its options)."""

import sys

from mamd.sim.mam.app import main

sys.exit(main())
