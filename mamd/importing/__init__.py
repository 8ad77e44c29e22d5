"""Turning a finished torrent into a book in the library: plan, link, describe, scan, confirm."""
