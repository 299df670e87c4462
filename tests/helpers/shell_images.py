"""Images made locally for engine tests: the static busybox of the mock image with a shell command as entrypoint
(`docker import`, as aipair.engines.mockimage makes the mock): nothing is pulled, and each tag behaves as scripted."""

from __future__ import annotations

import json
from typing import Any

from aipair.engines.mockimage import find_busybox, rootfs_tar

# The usual entrypoint: serve ``text`` at /healthz on port 8000, in the foreground.
SERVE = "mkdir -p /www && echo '{text}' > /www/healthz && exec httpd -f -p 8000 -h /www"


def import_shell_images(client: Any, repository: str, commands: dict[str, str]) -> None:
    """``repository:tag`` for each tag in ``commands``, running that command under /bin/sh -c."""
    rootfs = rootfs_tar(find_busybox())
    for tag, command in commands.items():
        client.api.import_image_from_data(
            rootfs,
            repository=repository,
            tag=tag,
            changes=[f'ENTRYPOINT ["/bin/sh", "-c", {json.dumps(command)}]', "ENV PATH=/bin"],
        )


def push_shell_images(client: Any, repository: str, commands: dict[str, str], *, keep: bool = True) -> None:
    """import_shell_images, each tag pushed to the registry ``repository`` names; ``keep`` False removes them
    from the engine afterwards (so that what runs them must pull them from the registry)."""
    import_shell_images(client, repository, commands)
    for tag in commands:
        for line in client.images.push(repository, tag, stream=True, decode=True):
            assert "error" not in line, line
        if not keep:
            client.images.remove(f"{repository}:{tag}", force=True)
