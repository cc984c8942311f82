"""The ``emonet-*`` commands: one small module each, all run by :func:`emonet.cli._common.run`.

Every command prints ``--help``; every failure is one line on stderr, ``PROG: error: ...``,
with exit status 2 for bad arguments or input, 1 when the system fails (disk full,
read-only file system) and 130 when interrupted.
"""
