"""One error type: every failure names the file (and line) it is about."""


class FactsError(Exception):
    """Facts could not be read, or a check over them failed."""
