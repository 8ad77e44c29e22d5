"""Audiobookshelf: the client (`client`) and the shapes of its answers as they arrive (`wire`)."""

from mamd.clients.audiobookshelf.client import (
    AudiobookshelfClient,
    book_from_item,
    explain_unauthorized,
    listed_from_row,
)

__all__ = ["AudiobookshelfClient", "book_from_item", "explain_unauthorized", "listed_from_row"]
