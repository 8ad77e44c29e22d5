"""Bonus point spending at work: the audited purchases (actions) and their records.

What to buy and how a lost answer settled are the pure `mamd.domain.spending`.
"""
