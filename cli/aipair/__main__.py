"""`python -m aipair`: the same as the `aipair` command."""

from .cli import main

main()
