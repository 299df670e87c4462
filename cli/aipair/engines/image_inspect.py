"""Inspect an image from its registry alone, no engine: platforms, config, and its final filesystem.

The index gives the platforms; the PLATFORM manifest gives the config blob and the layers; the config gives
user, entrypoint, ports, volumes, env keys and healthcheck; the layers, streamed and applied in order
(engines/image_layers.py), tell which programs are on the PATH and what each asked path is. Every read is
bounded (IMAGE in engines/limits.py, one deadline per image) and every blob's digest verified. With a cache
(engines/image_cache.py), a second inspect costs one HEAD for a tag and nothing for a digest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from ..catalog.images import ImageRef
from ..errors import AipairError, UsageError
from .image_cache import ImageCache
from .image_facts import PLATFORM, PROBE_PROGRAMS, ImageFacts, ImageHealthcheck, PathInfo
from .image_layers import DEFAULT_PATH, FsIndex, LayerError, LayerReader
from .limits import IMAGE, REGISTRY, Bounds, ImageBounds
from .registry import Descriptor, RegistryClient, RegistryError, platform_matches

NANOSECONDS = 1_000_000_000


async def inspect_image(
    client: RegistryClient,
    image: str,
    *,
    programs: Sequence[str] = PROBE_PROGRAMS,
    paths: Sequence[str] = (),
    cache: ImageCache | None = None,
    platform: str = PLATFORM,
    limits: ImageBounds = IMAGE,
) -> ImageFacts:
    """The facts of ``image`` (``name:tag`` or ``name@sha256:…``) for ``platform``; RegistryError when the
    registry fails, refuses or breaks a bound, UsageError for a reference that is not one."""
    try:
        ref = ImageRef.parse(image)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    programs = list(dict.fromkeys(programs))
    paths = list(dict.fromkeys(paths))
    try:
        async with asyncio.timeout(limits.deadline):
            return await _inspect(client, ref, image, programs, paths, cache, platform, limits)
    except TimeoutError:
        raise RegistryError(
            f"{image}: reading the image took longer than the {limits.deadline:.0f} s deadline "
            "(IMAGE.deadline in engines/limits.py); the registry is too slow or the image too large"
        ) from None


async def _inspect(
    client: RegistryClient,
    ref: ImageRef,
    image: str,
    programs: list[str],
    paths: list[str],
    cache: ImageCache | None,
    platform: str,
    limits: ImageBounds,
) -> ImageFacts:
    top = ref.digest
    if cache is not None:
        top = top or await client.digest(ref, ref.tag or "latest")  # a tag moves: resolve it each time
        hit = cache.lookup(top, platform, programs, paths)
        if hit is not None:
            return hit.model_copy(update={"reference": image})
    resolved = await client.manifest(ref, top or ref.tag or "latest", platform, limits=limits)
    top = resolved.index_digest or resolved.digest
    facts = ImageFacts(
        reference=image,
        digest=resolved.digest,
        index_digest=resolved.index_digest,
        platforms=resolved.platforms,
        has_platform=resolved.has_platform,
        size=sum(layer.size for layer in resolved.layers),
        layers=len(resolved.layers),
    )
    if not resolved.has_platform or resolved.config is None:
        return facts
    _check_sizes(image, resolved.layers, limits)
    config = await client.blob_json(
        ref, resolved.config.digest, resolved.config.size, max_bytes=limits.max_config_bytes
    )
    facts = _with_config(facts, config, platform)
    if not facts.has_platform:  # a single manifest for another platform: its layers are not what would run
        return facts
    index = FsIndex(limits)
    for number, layer in enumerate(resolved.layers, start=1):
        try:
            reader = LayerReader(index, layer.media_type)
            async with contextlib.aclosing(
                client.stream_blob(ref, layer.digest, layer.size, max_bytes=limits.max_layer_bytes)
            ) as chunks:
                async for chunk in chunks:
                    reader.feed(chunk)
            reader.close()
        except LayerError as exc:
            raise RegistryError(f"{image}: layer {number} ({layer.digest[:19]}…): {exc}") from None
    facts = facts.model_copy(
        update={"programs": [index.find_program(name, facts.path) for name in programs], "paths": _paths(index, paths)}
    )
    if cache is not None:
        cache.store(top, platform, facts, programs, paths)
    return facts


def _check_sizes(image: str, layers: list[Descriptor], limits: ImageBounds) -> None:
    """Before any layer is read: the manifest's own sizes within the bounds."""
    if len(layers) > limits.max_layers:
        raise RegistryError(
            f"{image}: {len(layers)} layers, over the {limits.max_layers} bound (IMAGE.max_layers in engines/limits.py)"
        )
    for number, layer in enumerate(layers, start=1):
        if layer.size > limits.max_layer_bytes:
            raise RegistryError(
                f"{image}: layer {number} ({layer.digest[:19]}…) is {layer.size // 2**20} MiB, over the "
                f"{limits.max_layer_bytes // 2**20} MiB bound on one layer (IMAGE.max_layer_bytes in "
                "engines/limits.py); not read"
            )
    total = sum(layer.size for layer in layers)
    if total > limits.max_image_bytes:
        raise RegistryError(
            f"{image}: its layers total {total // 2**20} MiB, over the {limits.max_image_bytes // 2**20} MiB bound "
            "on one image (IMAGE.max_image_bytes in engines/limits.py); not read"
        )


def _strings(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _keys(value: object) -> list[str]:
    return sorted(key for key in value if isinstance(key, str)) if isinstance(value, dict) else []


def _seconds(value: object) -> float | None:
    return value / NANOSECONDS if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _with_config(facts: ImageFacts, document: dict[str, Any], platform: str) -> ImageFacts:
    """The config blob's settings (untrusted JSON: a field of the wrong type counts as absent)."""
    settings = document.get("config")
    settings = settings if isinstance(settings, dict) else {}
    update: dict[str, Any] = {}
    if not facts.platforms:  # a single manifest: its platform is in its config
        parts = [document.get("os"), document.get("architecture"), document.get("variant")]
        named = "/".join(part for part in parts if isinstance(part, str) and part)
        update["platforms"] = [named] if named else []
        update["has_platform"] = platform_matches(named, platform)
    env = _strings(settings.get("Env"))
    values = dict(item.partition("=")[::2] for item in env)
    update["env_keys"] = sorted({item.partition("=")[0] for item in env})
    update["path"] = [entry for entry in values["PATH"].split(":") if entry] if "PATH" in values else list(DEFAULT_PATH)
    for field, key in (("user", "User"), ("working_dir", "WorkingDir")):
        if isinstance(settings.get(key), str):
            update[field] = settings[key]
    update["entrypoint"] = _strings(settings.get("Entrypoint"))
    update["cmd"] = _strings(settings.get("Cmd"))
    update["exposed_ports"] = _keys(settings.get("ExposedPorts"))
    update["volumes"] = _keys(settings.get("Volumes"))
    check = settings.get("Healthcheck")
    if isinstance(check, dict) and _strings(check.get("Test")):
        retries = check.get("Retries")
        update["healthcheck"] = ImageHealthcheck(
            test=_strings(check.get("Test")),  # ["NONE"] is kept: the image disables a parent's check
            interval_seconds=_seconds(check.get("Interval")),
            timeout_seconds=_seconds(check.get("Timeout")),
            retries=retries if isinstance(retries, int) and not isinstance(retries, bool) else None,
        )
    return facts.model_copy(update=update)


def _paths(index: FsIndex, paths: list[str]) -> list[PathInfo]:
    """Each asked path and its ancestors, once each, in the order first met."""
    seen: dict[str, PathInfo] = {}
    for path in paths:
        for info in index.path_info(path):
            seen.setdefault(info.path, info)
    return list(seen.values())


ImageQuestion = tuple[str, Sequence[str], Sequence[str]]  # (image, programs beyond PROBE_PROGRAMS, paths)


def inspect_images(
    images: list[ImageQuestion],
    *,
    cache: ImageCache | None = None,
    docker_config: Path | None = None,
    platform: str = PLATFORM,
    limits: ImageBounds = IMAGE,
    registry_limits: Bounds = REGISTRY,
    concurrency: int = 4,
) -> list[ImageFacts | AipairError]:
    """Each image's facts, or the error that stopped it, in the order given; the images are read
    concurrently (``concurrency`` at a time) and one failing does not stop the others."""

    async def run() -> list[ImageFacts | AipairError]:
        gate = asyncio.Semaphore(concurrency)
        async with RegistryClient(docker_config=docker_config, limits=registry_limits) as client:

            async def one(image: str, extra: Sequence[str], paths: Sequence[str]) -> ImageFacts | AipairError:
                async with gate:
                    try:
                        return await inspect_image(
                            client,
                            image,
                            programs=[*PROBE_PROGRAMS, *extra],
                            paths=paths,
                            cache=cache,
                            platform=platform,
                            limits=limits,
                        )
                    except AipairError as exc:
                        return exc
                    except httpx.HTTPError as exc:
                        return RegistryError(f"{image}: {exc.__class__.__name__}: {exc}")

            return list(await asyncio.gather(*(one(*question) for question in images)))

    return asyncio.run(run())
