"""Snapshot and restore throughput of aipair's volume snapshots beside a plain `tar` of the same volume.

One volume of ~1 GB of mixed files (by default 200 MB in 10 KB files, the rest in four big files), made on
the engine. Same run, same engine, same helper image (the local busybox mock image), each measured --runs
times (the median is shown):
  * take, reference: `tar -cf /to/data.tar -C /from .` from the volume into another volume, in a helper;
  * take: engines.snapshots.take (measure the volume, create the labelled snapshot volume, archive it into
    volume.tar in a helper: engines/volumes.archive);
  * restore, reference: `tar -xf` of that same archive into an EMPTY volume, in a helper;
  * restore, by-hand reference: what restoring a volume in place with plain tools takes: empty the volume
    (`find -exec rm -rf`), then `tar -xf` the same archive, in one helper, into the same live volume as the
    restore (the two alternate which goes first, so neither always meets a tree warm in the page cache);
  * restore: engines.snapshots.restore into the live volume (empty it, `tar -xpf` the archive:
    engines/volumes.unarchive).
Target (issue 16): take and restore at least 0.8x the reference's MB/s. A restore also empties the live tree
first, which the plain `tar -xf` into an empty volume does not: that part is timed on its own ("emptying the
tree": `find -exec rm -rf` of a full copy), and the restore's ratio is also shown without it. The page cache is
warm for all of them (the data was just written), and each measurement starts after a `sync` (not timed).

Needs a Docker engine (DOCKER_HOST or the local socket).

    python benchmarks/snapshot_restore.py [--small-mb 200] [--big-mb 800] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "cli"))

from aipair.engines import docker as engine  # noqa: E402
from aipair.engines import snapshots, volumes  # noqa: E402

PROJECT = "aipair-bench-snap"
LIVE = f"{PROJECT}_db-data"
TARRED = f"{PROJECT}_tar-reference"
EXTRACTED = f"{PROJECT}_tar-extracted"

# 10 KB files in directories of 500, then big files; random bytes (16 MB, repeated) so nothing is sparse.
FILL = r"""set -e
cd /data
dd if=/dev/urandom of=/tmp/chunk bs=1M count=16 2>/dev/null
small=$(( {small_mb} * 1024 / 10 ))
i=0
while [ $i -lt $small ]; do
  d=dir$(( i / 500 )); [ -d $d ] || mkdir $d
  dd if=/tmp/chunk of=$d/file$i bs=10k count=1 skip=$(( i % 1600 )) 2>/dev/null
  i=$(( i + 1 ))
done
mkdir big
per=$(( {big_mb} / 4 / 16 ))
for n in 1 2 3 4; do
  j=0; while [ $j -lt $per ]; do cat /tmp/chunk; j=$(( j + 1 )); done > big/blob$n
done
du -sb /data | cut -f1
"""

TAR = "set -e; rm -f /to/data.tar; tar -cf /to/data.tar -C /from ."
UNTAR = "set -e; tar -xf /from/data.tar -C /to"
EMPTY = "find /to -mindepth 1 -maxdepth 1 -exec rm -rf {} +"


def run_helper(client: Any, script: str, mounts: dict[str, tuple[str, str]]) -> str:
    """The engine's own helper container (engines/volumes.run_helper): the snapshot code's image and user."""
    return volumes.run_helper(client, script, mounts, "benchmark step")


def sync(client: Any) -> None:
    """`sync` on the engine before each measurement (not timed), so none pays for the one before's writeback."""
    run_helper(client, "sync", {})


def timed(client: Any, action: Callable[[], object]) -> float:
    sync(client)
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small-mb", type=int, default=200, help="MB in 10 KB files")
    parser.add_argument("--big-mb", type=int, default=800, help="MB in four big files")
    parser.add_argument("--runs", type=int, default=4, help="runs per measurement (the median is shown)")
    args = parser.parse_args()
    client = engine.connect(None)
    for name in (LIVE, TARRED, EXTRACTED):
        volumes.remove(client, name)
        volumes.create(client, name, {"com.docker.compose.project": PROJECT})
    try:
        started = time.perf_counter()
        size = int(run_helper(client, FILL.format(small_mb=args.small_mb, big_mb=args.big_mb), {LIVE: ("/data", "rw")}))
        files = args.small_mb * 1024 // 10 + 4
        print(f"volume: {size / 1e6:.0f} MB in {files} files (made in {time.perf_counter() - started:.0f} s)")
        digest = volumes.digest(client, LIVE)
        timings: dict[str, list[float]] = {
            "tar -cf (take ref.)": [],
            "snapshot take": [],
            "tar -xf (restore ref.)": [],
            "empty + tar -xf (by hand)": [],
            "snapshot restore": [],
            "emptying the tree": [],
        }
        for run in range(args.runs):
            timings["tar -cf (take ref.)"].append(
                timed(client, lambda: run_helper(client, TAR, {LIVE: ("/from", "ro"), TARRED: ("/to", "rw")}))
            )
            run_helper(client, EMPTY, {EXTRACTED: ("/to", "rw")})
            timings["tar -xf (restore ref.)"].append(
                timed(client, lambda: run_helper(client, UNTAR, {TARRED: ("/from", "ro"), EXTRACTED: ("/to", "rw")}))
            )
            timings["emptying the tree"].append(
                timed(client, lambda: run_helper(client, EMPTY, {EXTRACTED: ("/to", "rw")}))
            )
            sync(client)
            started = time.perf_counter()
            taken = snapshots.take(client, PROJECT, [snapshots.Source("db", LIVE, "bench:1")])
            timings["snapshot take"].append(time.perf_counter() - started)

            def by_hand() -> None:  # the same in-place work with plain tools, into the same live volume
                timings["empty + tar -xf (by hand)"].append(
                    timed(
                        client,
                        lambda: run_helper(client, f"{EMPTY}; {UNTAR}", {TARRED: ("/from", "ro"), LIVE: ("/to", "rw")}),
                    )
                )

            def restore(chosen: snapshots.SnapshotSet = taken) -> None:
                timings["snapshot restore"].append(timed(client, lambda: snapshots.restore(client, chosen)))

            # Both replace the live volume's tree; which goes first alternates, so neither always meets the
            # tree the other just wrote (warm in the cache) or the older one.
            for step in (by_hand, restore) if run % 2 == 0 else (restore, by_hand):
                step()
            snapshots.remove(client, taken)
        assert volumes.digest(client, LIVE) == digest, "the restored volume differs from the original"
        medians = {name: statistics.median(values) for name, values in timings.items()}
        reference = {
            "snapshot take": medians["tar -cf (take ref.)"],
            "snapshot restore": medians["tar -xf (restore ref.)"],
        }
        print(f"{'':<24}{'seconds':>9}{'MB/s':>8}{'vs ref.':>10}")
        for name, median in medians.items():
            ratio = f"{reference[name] / median:>9.2f}x" if name in reference else ""
            print(f"{name:<24}{median:>9.2f}{size / 1e6 / median:>8.0f}{ratio}")
        by_hand = medians["empty + tar -xf (by hand)"]
        print(f"{'restore vs by hand':<24}{'':>17}{by_hand / medians['snapshot restore']:>9.2f}x")
        without = medians["snapshot restore"] - medians["emptying the tree"]
        print(
            f"{'restore minus emptying':<24}{without:>9.2f}{size / 1e6 / without:>8.0f}"
            f"{reference['snapshot restore'] / without:>9.2f}x"
        )
        print(
            "target: take and restore >= 0.80x of their reference; the restored volume's digest equals the original's"
        )
    finally:
        for each in snapshots.list_sets(client, PROJECT):
            snapshots.remove(client, each)
        for name in (LIVE, TARRED, EXTRACTED):
            volumes.remove(client, name)


if __name__ == "__main__":
    main()
