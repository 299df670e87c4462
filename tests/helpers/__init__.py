"""What the tests share: plain functions, constants and test doubles (never a test or a fixture).

Fixtures live in conftest.py files (tests/conftest.py, tests/engine/conftest.py); a test module
imports from here and from the code under test, never from another test module.
"""
