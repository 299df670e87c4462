"""Everything that talks to the outside world: the Docker engine and the Compose CLI, registries,
Kestra, Pulumi, the host's shell, and the files aipair writes. Only these modules have side effects;
they never re-derive what a renderer decided."""
