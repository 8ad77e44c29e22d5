"""qBittorrent for tests, the demo and the benchmarks: the real `qbittorrent-nox` (launcher, binary choice)
and a simulated WebUI for the soak.
"""
