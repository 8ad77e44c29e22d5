"""The simulated MyAnonamouse: catalogue, account, session, bonus store, seedbox, downloads and controls.

`app.MamSimulator` holds them together; `python -m mamd.sim.mam` serves one alone.
"""
