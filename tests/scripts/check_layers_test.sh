#!/usr/bin/env bash
# Checks scripts/check-layers: the repository keeps to its layers; a small fake tree that keeps to
# them passes; and each violation planted in a copy of it (a forbidden include, a gRPC include
# where none may be, a file in a folder without rules) fails with a line naming the file, the
# line and the include.
#
#   tests/scripts/check_layers_test.sh [SOURCE_DIR]   # SOURCE_DIR defaults to this repository
set -euo pipefail

src=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
check="$src/scripts/check-layers"
# shellcheck source=tests/scripts/lib.sh
. "$(dirname "$0")/lib.sh"

# Writes file $2 of tree $1 as a comment line followed by the lines $3...
put() {
  local file="$1/$2"
  shift 2
  mkdir -p "$(dirname "$file")"
  {
    echo "// A file of the fake tree."
    printf '%s\n' "$@"
  } >"$file"
}

status=0
"$check" "$src" >"$tmp/out" 2>&1 || status=$?
[ "$status" -eq 0 ] || fail "the repository breaks its layers (exit $status): $(cat "$tmp/out")"

# One file or so per layer, each including what its layer may.
good="$tmp/good"
put "$good" common/clock.h '#include "absl/time/time.h"' '#include <string>'
put "$good" proto/fleet/v1/canonical_json.h '#include "google/protobuf/message.h"'
put "$good" proto/fleet/v1/agent.proto 'import "google/protobuf/duration.proto";'
put "$good" rpc/cq_pool.h '#include <grpcpp/grpcpp.h>' '#include "common/clock.h"'
put "$good" storage/store.h '#include "common/clock.h"' '#include "fleet/v1/agent.pb.h"'
put "$good" storage/rocksdb/rocksdb_store.h '#include "storage/store.h"' '#include "rocksdb/db.h"'
put "$good" storage/etcd/etcd_client.h '#include "storage/store.h"' \
  '#include "storage/etcd/etcd_api.grpc.pb.h"'
put "$good" server/model/records.proto 'import "fleet/v1/agent.proto";'
put "$good" server/model/keys.h '#include "storage/store.h"' '#include "server/model/records.pb.h"'
put "$good" server/control/policy_engine.h '#include "server/model/keys.h"' \
  '#include "fleet/v1/canonical_json.h"'
put "$good" server/agent/connect_service.h '#include "server/control/policy_engine.h"' \
  '#include "rpc/cq_pool.h"' '#include "fleet/v1/agent.grpc.pb.h"'
put "$good" server/admin/admin_service.h '#include "server/control/policy_engine.h"' \
  '#include <grpcpp/grpcpp.h>'
put "$good" server/app/fleetd_server.h '#include "server/agent/connect_service.h"' \
  '#include "server/admin/admin_service.h"' '#include "storage/rocksdb/rocksdb_store.h"'
put "$good" server/main.cc '#include "server/app/fleetd_server.h"' '#include "rpc/cq_pool.h"'
put "$good" agent/connection.h '#include "rpc/cq_pool.h"'
put "$good" agent/connection.cc '#include "connection.h"'
put "$good" agent-sim/simulator.h '#include "agent/connection.h"'
put "$good" cli/admin_client.h '#include "rpc/cq_pool.h"' '#include "fleet/v1/admin.grpc.pb.h"'
put "$good" tests/testing/process.h '#include "server/app/fleetd_server.h"'
put "$good" tests/server/fleetd_test.cc '#include "tests/testing/process.h"' '#include "cli/admin_client.h"'
put "$good" bench/fanout_bench.cc '#include "tests/testing/process.h"'
# Build trees hold generated code and are not checked.
put "$good" build-asan/server/control/agent.grpc.pb.h '#include <grpcpp/grpcpp.h>'
status=0
"$check" "$good" >"$tmp/out" 2>&1 || status=$?
[ "$status" -eq 0 ] || fail "the fake tree fails (exit $status): $(cat "$tmp/out")"
grep -q "check-layers: 21 files" "$tmp/out" || fail "summary does not count 21 files: $(cat "$tmp/out")"

# expect_offence NAME FILE LINE WANT...: in a copy of the fake tree, writes FILE as a comment and
# LINE (so LINE is line 2), and expects exit 1 with one offence, which contains each WANT.
expect_offence() {
  local name=$1 file=$2 line=$3
  shift 3
  local tree="$tmp/$name"
  cp -r "$good" "$tree"
  put "$tree" "$file" "$line"
  local status=0
  "$check" "$tree" >"$tmp/out" 2>"$tmp/err" || status=$?
  [ "$status" -eq 1 ] || fail "$name: exit $status, want 1: $(cat "$tmp/out" "$tmp/err")"
  [ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "$name: want one offence, got: $(cat "$tmp/out")"
  local want
  for want in "$@"; do
    grep -qF -- "$want" "$tmp/out" || fail "$name: output lacks '$want': $(cat "$tmp/out")"
  done
}

expect_offence control-grpcpp server/control/fanout.cc '#include <grpcpp/grpcpp.h>' \
  "server/control/fanout.cc:2:" '"grpcpp/grpcpp.h"'
expect_offence control-grpc-pb server/control/fanout.h '#include "fleet/v1/agent.grpc.pb.h"' \
  "server/control/fanout.h:2:" '"fleet/v1/agent.grpc.pb.h"'
expect_offence control-via-rpc server/control/fanout.h '#include "rpc/cq_pool.h"' \
  "server/control/fanout.h:2:" '"rpc/cq_pool.h"'
expect_offence control-via-etcd server/control/fanout.h '#include "storage/etcd/etcd_client.h"' \
  "server/control/fanout.h:2:" '"storage/etcd/etcd_client.h"'
expect_offence admin-agent server/admin/enroll.cc '#include "server/agent/connect_service.h"' \
  "server/admin/enroll.cc:2:" '"server/agent/connect_service.h"' "allowed:"
expect_offence agent-server agent/state.cc '#include "server/model/keys.h"' \
  "agent/state.cc:2:" '"server/model/keys.h"'
expect_offence agent-server-angle agent/state.cc '#include <server/model/keys.h>' \
  "agent/state.cc:2:" '"server/model/keys.h"'
expect_offence tests-bench tests/server/bench_test.cc '#include "bench/fanout_bench.h"' \
  "tests/server/bench_test.cc:2:" '"bench/fanout_bench.h"'
expect_offence main-control server/main.cc '#include "server/control/policy_engine.h"' \
  "server/main.cc:2:" '"server/control/policy_engine.h"'
expect_offence common-api common/clock.cc '#include "fleet/v1/agent.pb.h"' \
  "common/clock.cc:2:" '"fleet/v1/agent.pb.h"'
expect_offence proto-import proto/fleet/v1/admin.proto 'import "server/model/records.proto";' \
  "proto/fleet/v1/admin.proto:2:" '"server/model/records.proto"'
expect_offence unknown-folder metrics/registry.h '#include "common/clock.h"' \
  "metrics/registry.h" "metrics/" "no layer rules"
expect_offence unknown-server-folder server/metrics/registry.h '#include "common/clock.h"' \
  "server/metrics/registry.h" "no layer rules"

status=0
"$check" "$tmp/good" "$tmp/good" >/dev/null 2>&1 || status=$?
[ "$status" -eq 2 ] || fail "two roots gave exit $status, want 2"

finish check_layers_test
