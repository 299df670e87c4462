"""Dependency graph questions: start order, cycles, transitive closure."""

from __future__ import annotations

from .model import Catalog, Condition, Service


class CycleError(ValueError):
    """The dependencies loop back on themselves; ``cycle`` lists it, first name repeated last."""

    def __init__(self, cycle: list[str]) -> None:
        self.cycle = cycle
        super().__init__("dependency cycle: " + " → ".join(cycle))


def condition(services: dict[str, Service], dependent: str, dependency: str) -> Condition:
    """The condition ``dependent`` waits for: as written, else `completed` for jobs, `healthy` otherwise."""
    written = services[dependent].depends_on[dependency]
    if written is not None:
        return written
    return "completed" if services[dependency].kind == "job" else "healthy"


def find_cycle(edges: dict[str, list[str]]) -> list[str] | None:
    """Return one cycle (``[a, b, a]``) or None. Iterative DFS, deterministic in input order."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = {node: WHITE for node in edges}
    for root in edges:
        if colour[root] != WHITE:
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, index = stack.pop()
            if index == 0:
                colour[node] = GREY
                path.append(node)
            targets = [t for t in edges.get(node, []) if t in colour]
            if index < len(targets):
                stack.append((node, index + 1))
                target = targets[index]
                if colour[target] == GREY:
                    return path[path.index(target) :] + [target]
                if colour[target] == WHITE:
                    stack.append((target, 0))
            else:
                colour[node] = BLACK
                path.pop()
    return None


def start_waves(catalog: Catalog, phase: str | None = None) -> list[list[str]]:
    """Services grouped into waves: each wave depends only on earlier waves (Kahn's algorithm).

    Raises CycleError when there is no order. Names inside a wave keep catalog order.
    """
    services = catalog.services if phase is None else catalog.in_phase(phase)
    edges = {name: [d for d in svc.depends_on if d in services] for name, svc in services.items()}
    cycle = find_cycle(edges)
    if cycle:
        raise CycleError(cycle)
    placed: dict[str, int] = {}
    waves: list[list[str]] = []
    remaining = list(services)
    while remaining:
        wave = [n for n in remaining if all(d in placed for d in edges[n])]
        for name in wave:
            placed[name] = len(waves)
        waves.append(wave)
        remaining = [n for n in remaining if n not in placed]
    return waves


def dependency_closure(catalog: Catalog, name: str) -> set[str]:
    """Everything ``name`` depends on, directly or not (not including itself)."""
    seen: set[str] = set()
    stack = list(catalog.services[name].depends_on)
    while stack:
        dep = stack.pop()
        if dep in seen or dep not in catalog.services:
            continue
        seen.add(dep)
        stack.extend(catalog.services[dep].depends_on)
    return seen
