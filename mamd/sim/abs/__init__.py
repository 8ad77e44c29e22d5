"""The simulated Audiobookshelf 2.36: its library model, folder scanner, API answers and `/__sim/` controls.

`app.AbsSimulator` holds them together; `python -m mamd.sim.abs` serves one alone.
"""
