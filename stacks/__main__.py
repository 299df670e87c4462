"""Pulumi program for phase 2: everything is built by aipair.engines.pulumi_program from the service catalog."""

from aipair.engines.pulumi_program import main

main()
