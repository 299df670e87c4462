#!/usr/bin/env bash
# Run the Kestra engine test module (tests/kestra-engine, Maven + JUnit 5) with a Java 21+ from
# scripts/kestra-java.sh; with the Eclipse compiler when that Java is a runtime without javac.
# Extra arguments go to Maven, e.g. -Pkestra-2 (Kestra 2.0.0), -Dsurefire.groups=validation (load and validate only).
# The Maven repository is cached between runs: $AIPAIR_M2_REPOSITORY, default ~/.m2/repository;
# an empty one works (cold: everything comes from Maven Central).
# tests/engine/test_kestra_engine.py runs this with the AIPAIR_KESTRA_* variables the module reads.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
command -v mvn >/dev/null 2>&1 || { echo "Maven is needed for the Kestra engine tests: apt-get install -y maven" >&2; exit 1; }
java=$("$root/scripts/kestra-java.sh")
JAVA_HOME=$(sed -n 1p <<<"$java")
export JAVA_HOME
compiler=()
if [[ "$(sed -n 2p <<<"$java")" == runtime ]]; then
  # no javac and no lib/ct.sym (for --release) in a runtime: ECJ from Maven Central, -source/-target 21
  compiler=(-Daipair.compiler=eclipse -Daipair.release=)
fi
repository="${AIPAIR_M2_REPOSITORY:-$HOME/.m2/repository}"
exec mvn -B -q -f "$root/tests/kestra-engine/pom.xml" -Dmaven.repo.local="$repository" "${compiler[@]}" test "$@"
