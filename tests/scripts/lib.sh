# Sourced by the tests in tests/scripts/ (after `set -euo pipefail`): what each of them starts
# and ends with.
#   $tmp           a fresh directory, removed on exit
#   fail MESSAGE   counts a failure and goes on
#   skip REASON    exits 77 (skipped, for ctest's SKIP_RETURN_CODE), or 1 if something failed
#   finish NAME    exits 1 naming the count of failures, or prints "NAME: ok"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}

skip() {
  echo "SKIP: $*" >&2
  [ "$failures" -eq 0 ] || exit 1
  exit 77
}

finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$1: $failures failure(s)" >&2
    exit 1
  fi
  echo "$1: ok"
}
