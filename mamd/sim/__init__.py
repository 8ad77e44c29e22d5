"""Simulators of mamd's upstream services, served on loopback for tests, the demo and the benchmarks.

Each simulator reproduces the answers of the real service as observed and recorded, including
its traps, and lets a test change its state and inject faults. `abs/` and `mam/` are the two
simulators, `qbittorrent/` a real qbittorrent-nox (and a simulated WebUI); what they share — faults,
the `/__sim/` control routes, serving one alone — lives here, with the ntfy receiver and the
`.torrent` maker.
"""
