"""Test helpers that more than one test folder uses (``tests`` is on pytest's pythonpath)."""
