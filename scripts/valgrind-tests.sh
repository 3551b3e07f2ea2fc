#!/usr/bin/env bash
# Runs every workspace test binary under valgrind memcheck and fails on any
# invalid read/write/free or definitely-lost leak.
#
# Uninitialised-value checks are off: valgrind does not model the kernel
# writing into user buffers through io_uring, so every byte a ring read
# delivers looks uninitialised to it (hundreds of false reports per binary).
# Invalid accesses (a use-after-free of an op's buffer) and leaks are still
# caught.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 2; }
mapfile -t bins < <(cargo test --workspace --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import sys, json
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("profile", {}).get("test") and m.get("executable"):
        print(m["executable"])')
if [ ${#bins[@]} -eq 0 ]; then
  echo "found no test binaries to run (did cargo test --no-run fail?)" >&2
  exit 2
fi
status=0
for bin in "${bins[@]}"; do
  log=$(mktemp)
  if valgrind --quiet --error-exitcode=99 --undef-value-errors=no --leak-check=full \
      --errors-for-leak-kinds=definite --trace-children=yes "$bin" --test-threads=2 >"$log" 2>&1; then
    echo "ok      $(basename "$bin"): $(grep -E '^test result' "$log" | tail -1)"
  else
    echo "FAILED  $(basename "$bin") (log: $log)"; grep -E '^==[0-9]+== (Invalid|Mismatched|[0-9,]+ bytes in)' "$log" | head -5 || true
    status=1
  fi
done
exit $status
