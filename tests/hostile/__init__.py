"""Hostile input across the entry points (issue #6): a table of cases per entry point."""
