"""mamd keeps an Audiobookshelf library complete from MyAnonamouse through qBittorrent."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mamd")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
