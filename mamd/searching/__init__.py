"""The search job's parts: the query cascade for one wanted book, the grab, and the series it follows.

What a release is worth is the pure `mamd.domain` (matching, rules, queries, budget).
"""
