"""Shared pieces of the test suite: configuration files, a hand-moved clock, the daemon as a process."""
