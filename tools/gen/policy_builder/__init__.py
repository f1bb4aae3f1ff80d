"""Policy Engine Builder: turns a directory of Go policies into a custom policy engine."""

__version__ = "0.1.0"
