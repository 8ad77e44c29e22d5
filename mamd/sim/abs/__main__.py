"""`python -m mamd.sim.abs`: serve the simulator alone (see `app` for its options)."""

import sys

from mamd.sim.abs.app import main

sys.exit(main())
