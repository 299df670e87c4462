"""Everything that talks to the outside world: the Docker engine, the Compose CLI, (later) Pulumi,
Kestra and registries. Only these modules have side effects beyond the output files."""
