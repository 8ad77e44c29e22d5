"""`mamd demo`: the daemon at work on this machine, in a temporary folder, narrated step by step.

A small Audiobookshelf library with gaps is written to disk and served by the simulator, the
MAM simulator serves a catalogue that holds the missing books, and a real `qbittorrent-nox`
downloads into the folder. `mamd run` starts as a real process on a demo configuration and
is driven the way qBittorrent, an editor and a user with curl would: it reads the library,
works out what is missing, searches MAM, grabs, and imports what finishes; its notifications go to
an ntfy receiver the demo runs, and the demo shows what arrived. Nothing outside the folder is
touched.
"""
