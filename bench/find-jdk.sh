# Sourced by the bench/run-*.sh scripts: sets JAVA to a java binary of JDK 21 or newer.
# JAVA_HOME wins if it is new enough; otherwise the newest JDK under /usr/lib/jvm (Debian's
# standard JVM directory). Fails with a clear message if there is none.

java_major() { # prints the feature version of the java binary $1, or 0
  "$1" -XshowSettings:properties -version 2>&1 |
    sed -n 's/^ *java\.specification\.version = \([0-9][0-9]*\).*/\1/p' | head -n 1 | grep . || echo 0
}

find_jdk21() {
  JAVA=""
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
    if [ "$(java_major "$JAVA_HOME/bin/java")" -ge 21 ]; then
      JAVA="$JAVA_HOME/bin/java"
      return 0
    fi
    echo "note: JAVA_HOME=$JAVA_HOME is older than Java 21; looking in /usr/lib/jvm" >&2
  fi
  best=0
  for j in /usr/lib/jvm/*/bin/java; do
    [ -x "$j" ] || continue
    m=$(java_major "$j")
    if [ "$m" -ge 21 ] && [ "$m" -gt "$best" ]; then
      best=$m
      JAVA=$j
    fi
  done
  if [ -z "$JAVA" ]; then
    echo "error: no JDK 21 or newer found (set JAVA_HOME to one, or install one under /usr/lib/jvm)" >&2
    return 1
  fi
}
