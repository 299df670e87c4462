"""Images made locally for engine tests: the static busybox of the mock image with a shell command as entrypoint
(`docker import`, as aipair.engines.mockimage makes the mock): nothing is pulled, and each tag behaves as scripted."""

from __future__ import annotations

import json
from typing import Any

from aipair.engines.mockimage import find_busybox, rootfs_tar


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
