"""Presenters: typed results in, tables or JSON out. They print and never decide an exit code."""
