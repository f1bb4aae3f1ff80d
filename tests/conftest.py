"""Shared fixtures for the Python and end-to-end suites."""
