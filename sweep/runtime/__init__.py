"""The process runtime: signals (Ctrl-C, SIGTERM as an exception), memory given back between jobs,
process identity (owners), file locks, hardware facts, secrets masked in URLs, a quiet console, database URLs.

Imports nothing of sweep above ``sweep.config``: every other package may use it.
"""
