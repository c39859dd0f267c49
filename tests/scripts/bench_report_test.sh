#!/usr/bin/env bash
# Checks scripts/bench-report on sample scale benchmark results in a temp dir: plots and
# SUMMARY.md are written, a missed target shows as "no", a case error shows its text, and
# malformed input, no input and bad usage give the documented exit codes.
#
#   tests/scripts/bench_report_test.sh [SOURCE_DIR]   # SOURCE_DIR defaults to this repository
set -euo pipefail

src=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
report="$src/scripts/bench-report"
# shellcheck source=tests/scripts/lib.sh
. "$(dirname "$0")/lib.sh"

# One scenario in seconds with a target (one case missed it, one failed), one with mixed units
# and no targets on some cases.
mkdir "$tmp/results"
cat >"$tmp/results/fanout.json" <<'EOF'
{
  "scenario": "fanout",
  "title": "Policy commit to acked by every agent",
  "started_at": "2026-11-22T04:30:00Z",
  "duration_s": 123.4,
  "conditions": {"cores": 2, "fd_limit_soft": 20000, "agents_on_same_machine": true},
  "cases": [
    {"name": "10k agents, one connection each", "params": {"agents": 10000, "connections": 10000},
     "metric": "commit_to_all_acked", "unit": "s", "samples": [0.21, 0.25, 0.19],
     "median": 0.21, "p99": 0.25, "target": {"stat": "p99", "op": "<", "value": 0.5}, "met": true,
     "figures": {"full_documents": 0, "errors": 0}, "error": null},
    {"name": "10k agents over 100 connections", "params": {"agents": 10000, "connections": 100},
     "metric": "commit_to_all_acked", "unit": "s", "samples": [0.41, 0.62, 0.71],
     "median": 0.62, "p99": 0.71, "target": {"stat": "p99", "op": "<", "value": 0.5}, "met": false,
     "figures": {"full_documents": 3}, "error": null},
    {"name": "20k agents, one connection each", "params": {"agents": 20000},
     "metric": "commit_to_all_acked", "unit": "s", "samples": [], "median": null, "p99": null,
     "target": {"stat": "p99", "op": "<", "value": 0.5}, "met": false, "figures": {},
     "error": "agents failed to connect: fd limit"}
  ],
  "notes": ["agents on the same machine"]
}
EOF
cat >"$tmp/results/admin-write.json" <<'EOF'
{
  "scenario": "admin-write",
  "title": "Admin writes under agent load",
  "started_at": "2026-11-22T04:35:00Z",
  "duration_s": 60,
  "conditions": {"cores": 2},
  "cases": [
    {"name": "PutPolicy latency", "params": {"agents": 10000}, "metric": "put_latency",
     "unit": "ms", "samples": [3.1, 2.9, 4.8], "median": 3.1, "p99": 4.8,
     "target": {"stat": "p99", "op": "<", "value": 10}, "met": true, "figures": {}, "error": null},
    {"name": "PutPolicy throughput", "params": {"writers": 8}, "metric": "writes",
     "unit": "per_s", "samples": [2841.5, 2790.2, 2911.0], "median": 2841.5, "p99": 2911.0,
     "target": null, "met": null, "figures": {"commits": 22573}, "error": null}
  ]
}
EOF
# Wall-clock seconds and CPU seconds in one scenario: two panels.
cat >"$tmp/results/rollout-watch.json" <<'EOF'
{
  "scenario": "rollout-watch",
  "title": "Rollout watchers: apply to every watcher complete, and fleetd's CPU for them",
  "started_at": "2026-11-22T04:40:00Z",
  "duration_s": 45.2,
  "conditions": {"cores": 2, "scale": 1},
  "cases": [
    {"name": "10000 agents over 100 connections, 100 watchers: apply to every watcher complete",
     "params": {"agents": 10000, "connections": 100, "watchers": 100, "idle_hold_s": 2},
     "metric": "apply_to_watchers_complete", "unit": "s", "samples": [0.82, 0.77, 0.91],
     "median": 0.82, "p99": 0.91, "target": null, "met": null,
     "figures": {"last_agent_ack_s_median": 0.31, "errors": 0}, "error": null},
    {"name": "10000 agents over 100 connections, 100 watchers: fleetd CPU during the rollout",
     "params": {"agents": 10000, "watchers": 100}, "metric": "fleetd_cpu_rollout",
     "unit": "cpu_s", "samples": [1.41, 1.32, 1.55], "median": 1.41, "p99": 1.55,
     "target": null, "met": null, "figures": {}, "error": null},
    {"name": "10000 agents over 100 connections, 100 watchers: fleetd CPU over a 2s idle hold",
     "params": {"agents": 10000, "watchers": 100}, "metric": "fleetd_cpu_idle_hold",
     "unit": "cpu_s", "samples": [3.9, 3.8, 3.95], "median": 3.9, "p99": 3.95,
     "target": null, "met": null, "figures": {"fleetd_cpu_idle_without_watchers": 0.02},
     "error": null}
  ]
}
EOF

status=0
"$report" "$tmp/results" >"$tmp/out" 2>"$tmp/err" || status=$?
[ "$status" -eq 0 ] || fail "bench-report exited $status on good input: $(cat "$tmp/err")"
for s in fanout admin-write rollout-watch; do
  png="$tmp/results/$s.png"
  if [ ! -s "$png" ]; then
    fail "$s.png not written"
  elif [ "$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')" != "89504e470d0a1a0a" ]; then
    fail "$s.png does not start with the PNG signature"
  fi
done
summary="$tmp/results/SUMMARY.md"
if [ ! -f "$summary" ]; then
  fail "SUMMARY.md not written"
else
  for name in "10k agents, one connection each" "10k agents over 100 connections" \
    "20k agents, one connection each" "PutPolicy latency" "PutPolicy throughput" \
    "agents failed to connect: fd limit" "![fanout](fanout.png)" "fd_limit_soft=20000"; do
    grep -qF -- "$name" "$summary" || fail "SUMMARY.md lacks: $name"
  done
  grep -qE '^\| fanout \| 10k agents over 100 connections \|.*\| no \|' "$summary" ||
    fail "SUMMARY.md does not say \"no\" for the missed target"
  grep -qE '^\| fanout \| 10k agents, one connection each \|.*\| yes \|' "$summary" ||
    fail "SUMMARY.md does not say \"yes\" for the met target"
  grep -qE '^\| rollout-watch \| [^|]*fleetd CPU over a 2s idle hold \| 3\.9 \| 3\.95 \| cpu_s \|' \
    "$summary" || fail "SUMMARY.md lacks the CPU seconds row of rollout-watch"
  grep -qF "fleetd_cpu_idle_without_watchers=0.02" "$summary" ||
    fail "SUMMARY.md lacks the figures of rollout-watch"
  # Reproducible: a second run writes the same files.
  cp "$summary" "$tmp/summary.first"
  cp "$tmp/results/fanout.png" "$tmp/fanout.first"
  "$report" "$tmp/results" >/dev/null 2>&1 || fail "second run failed"
  cmp -s "$summary" "$tmp/summary.first" || fail "SUMMARY.md differs between two runs"
  cmp -s "$tmp/results/fanout.png" "$tmp/fanout.first" || fail "fanout.png differs between two runs"
fi

# A malformed file: exit 1, naming the file.
mkdir "$tmp/bad"
cp "$tmp/results/fanout.json" "$tmp/bad/"
printf '{"scenario": "broken", "title": ' >"$tmp/bad/broken.json"
status=0
"$report" "$tmp/bad" >/dev/null 2>"$tmp/err" || status=$?
[ "$status" -eq 1 ] || fail "malformed JSON gave exit $status, want 1"
grep -qF "broken.json" "$tmp/err" || fail "malformed JSON error does not name the file: $(cat "$tmp/err")"
[ ! -e "$tmp/bad/SUMMARY.md" ] || fail "SUMMARY.md written despite a malformed file"

# No JSON at all: exit 1. Bad usage: exit 2. --help: exit 0.
mkdir "$tmp/empty"
status=0
"$report" "$tmp/empty" >/dev/null 2>&1 || status=$?
[ "$status" -eq 1 ] || fail "empty directory gave exit $status, want 1"
status=0
"$report" "$tmp/results" "$tmp/empty" >/dev/null 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "two directories gave exit $status, want 2"
status=0
"$report" --no-such-option >/dev/null 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "unknown option gave exit $status, want 2"
status=0
"$report" --help >"$tmp/help" 2>&1 || status=$?
[ "$status" -eq 0 ] || fail "--help gave exit $status, want 0"
grep -q "SUMMARY.md" "$tmp/help" || fail "--help does not explain the output"

finish bench_report_test
