"""The account guard at work: its actions (stopping and resuming downloads) and its records.

The verdict itself — `ok`, `caution` or `emergency` and why — is the pure `mamd.domain.guard`.
"""
