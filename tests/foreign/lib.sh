# Shared helpers for the build scripts in tests/foreign (sourced, not run).

die() { echo "tests/foreign: error: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found on PATH ($2)"; }

# stamp_of FILE...: one hash of the named files' contents (the inputs of a build step).
stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# up_to_date STAMPFILE HASH OUTPUT...: true when every OUTPUT exists and STAMPFILE holds HASH.
up_to_date() {
  local stampfile=$1 hash=$2; shift 2
  [ -f "$stampfile" ] && [ "$(cat "$stampfile")" = "$hash" ] || return 1
  local o; for o in "$@"; do [ -e "$o" ] || return 1; done
}
