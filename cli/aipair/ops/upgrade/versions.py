"""Which registry tags are upgrade candidates for a service. Pure: tags and policy in, decision out.

Image tags are not PEP 440 or strict semver (`v1.13.4`, `16.6-alpine`, `0.8.2.1`, `2.1.0-rc1`),
so they are read here by shape: an optional `v`, dot-separated numbers, an optional `-suffix`.
A candidate must have the current tag's shape (same prefix, as many numbers, same suffix), so
floating tags such as `7.4-alpine` or `latest` never count.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ...catalog.images import ImageRef
from ...catalog.model import Catalog, UpgradePolicy
from ...errors import UsageError

TAG_RE = re.compile(r"^(?P<prefix>v?)(?P<numbers>\d+(?:\.\d+){0,3})(?P<suffix>-[0-9A-Za-z][0-9A-Za-z.-]*)?$")
PRERELEASE_RE = re.compile(r"^-(alpha|beta|rc|pre|preview|dev|snapshot)[.-]?\d*", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class Tag:
    numbers: tuple[int, ...]
    prerelease: bool
    prefix: str
    suffix: str
    text: str

    @property
    def stable_key(self) -> tuple[tuple[int, ...], int]:
        return self.numbers, 0 if self.prerelease else 1  # 2.1.0-rc1 sorts before 2.1.0


def parse_tag(text: str) -> Tag | None:
    match = TAG_RE.match(text)
    if not match:
        return None
    suffix = match.group("suffix") or ""
    return Tag(
        tuple(int(n) for n in match.group("numbers").split(".")),
        bool(PRERELEASE_RE.match(suffix)),
        match.group("prefix"),
        suffix,
        text,
    )


def _same_shape(tag: Tag, current: Tag, policy: UpgradePolicy) -> bool:
    if tag.prefix != current.prefix or len(tag.numbers) != len(current.numbers):
        return False
    wanted_suffix = policy.suffix if policy.suffix is not None else current.suffix
    if tag.suffix == wanted_suffix:
        return True
    # a pre-release of the wanted shape: 2.1.0-rc1 (no suffix wanted), 2.1.0-rc1-alpine is not supported
    return policy.prerelease and tag.prerelease and not wanted_suffix


def _within_track(tag: Tag, current: Tag, track: str) -> bool:
    if track == "patch":
        return tag.numbers[:2] == current.numbers[:2]
    if track == "minor":
        return tag.numbers[:1] == current.numbers[:1]
    return track in ("major", "calver")


@dataclass(frozen=True)
class Decision:
    current: str
    candidate: str | None  # newest tag the policy allows, newer than current
    newest: str | None  # newest tag of the same shape, whatever the track


def _stable_tags(current: Tag, tags: list[str], policy: UpgradePolicy) -> list[Tag]:
    """Tags of the current tag's shape, not ignored, pre-releases only when the policy allows them."""
    shaped = [t for t in (parse_tag(text) for text in tags) if t and _same_shape(t, current, policy)]
    return [
        t
        for t in shaped
        if not any(fnmatch.fnmatchcase(t.text, pattern) for pattern in policy.ignore)
        and (not t.prerelease or policy.prerelease)
    ]


def allowed_tags(current_text: str, tags: list[str], policy: UpgradePolicy) -> list[Tag]:
    """The tags the policy allows as an upgrade: newer than the current one and within the track."""
    current = parse_tag(current_text)
    if current is None or policy.track == "none":
        return []
    return [
        t
        for t in _stable_tags(current, tags, policy)
        if t.stable_key > current.stable_key and _within_track(t, current, policy.track)
    ]


def decide(current_text: str, tags: list[str], policy: UpgradePolicy) -> Decision:
    current = parse_tag(current_text)
    if current is None:
        return Decision(current_text, None, None)
    newest = max(_stable_tags(current, tags, policy), key=lambda t: t.stable_key, default=None)
    candidate = max(allowed_tags(current_text, tags, policy), key=lambda t: t.stable_key, default=None)
    return Decision(current_text, candidate.text if candidate else None, newest.text if newest else None)


def lockstep(
    decisions: dict[str, Decision], tags_by_service: dict[str, list[str]], policies: dict[str, UpgradePolicy]
) -> dict[str, Decision]:
    """Services of one group move together: the candidate is the newest version every member allows
    and every member's registry has; if there is none, no member moves."""
    result = dict(decisions)
    groups: dict[str, list[str]] = {}
    for name, policy in policies.items():
        if policy.group:
            groups.setdefault(policy.group, []).append(name)
    for members in groups.values():
        allowed = {
            name: allowed_tags(decisions[name].current, tags_by_service[name], policies[name]) for name in members
        }
        common = set.intersection(*({t.numbers for t in tags} for tags in allowed.values()))
        best = max(common, default=None)
        for name in members:
            chosen = next((t.text for t in allowed[name] if t.numbers == best), None) if best is not None else None
            result[name] = Decision(decisions[name].current, chosen, decisions[name].newest)
    return result


def candidate_image(image: str, version: str) -> str:
    """The catalog's image at another tag (a pinned digest belongs to the old tag, so it goes).

    UsageError unless ``version`` is a Docker tag: it ends up in catalog.yaml, URLs and Compose files."""
    try:
        return str(ImageRef.parse(image).with_tag(version))
    except ValueError as exc:
        raise UsageError(f"{exc}; nothing was changed") from None


def group_members(catalog: Catalog, service: str) -> list[str]:
    """``service`` and every service sharing its ``upgrade.group``, in catalog order: what moves in lockstep
    (validated in one throw-away project, applied in one catalog edit). Just ``[service]`` without a group.

    UsageError for a service the catalog does not have."""
    group = catalog.service(service).upgrade.group
    if group is None:
        return [service]
    return [name for name, svc in catalog.services.items() if svc.upgrade.group == group]


def member_tag(catalog: Catalog, member: str, version: str) -> str:
    """``version`` (a tag of another member of the group) in ``member``'s own tag shape, as lockstep chose it: the
    same numbers, with ``member``'s prefix and suffix (api 2.1.0 is gui v2.1.0 when gui's image is gui:v2.0.0).
    ``version`` itself when either is not a version tag."""
    wanted, numbers = parse_tag(version), TAG_RE.match(version)
    current = parse_tag(ImageRef.parse(catalog.service(member).image).tag or "")
    if wanted is None or numbers is None or current is None:
        return version
    policy = catalog.service(member).upgrade
    suffix = policy.suffix if policy.suffix is not None else current.suffix
    if wanted.prerelease and not suffix:  # a pre-release of a member without a suffix: as given
        suffix = wanted.suffix
    return f"{current.prefix}{numbers.group('numbers')}{suffix}"


def group_tags(catalog: Catalog, service: str, version: str) -> dict[str, str]:
    """Each member of ``service``'s group (group_members; ``service`` first, at ``version`` as given) and its tag
    for ``version`` (member_tag): what is validated, pinned and recorded for each member."""
    members = [service, *(name for name in group_members(catalog, service) if name != service)]
    return {name: version if name == service else member_tag(catalog, name, version) for name in members}


def candidate_images(catalog: Catalog, service: str, version: str) -> dict[str, str]:
    """Each member of ``service``'s group (group_tags; ``service`` first) at its tag for ``version``: computed
    once, before anything runs."""
    return images_at(catalog, group_tags(catalog, service, version))


def images_at(catalog: Catalog, tags: Mapping[str, str]) -> dict[str, str]:
    """Each service of ``tags`` (service → tag, as group_tags gives them) at its tag."""
    return {name: candidate_image(catalog.service(name).image, tag) for name, tag in tags.items()}
