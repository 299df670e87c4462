"""Pulumi program for phase 2: everything is built by aipair.stack from the service catalog."""

from aipair.stack import main

main()
