"""Simulators of mamd's upstream services, served on loopback for tests, the demo and the benchmarks.

Each simulator reproduces the answers of the real service as observed and recorded, including
its traps, and lets a test change its state and inject faults.
"""
