"""Notifications: what mamd tells a person, through Apprise, once, and with nothing secret in it.

`routes` decides which events and problems become messages and for whom, `messages` words them
(both pure), `services` loads Apprise and sends, and `notifications` is the part of the running
daemon that gathers, stores (in the outbox, `mamd.store.outbox`) and delivers them.
"""
