#!/usr/bin/env bash
# Checks packaging/: systemd-analyze verify accepts packaging/fleetd.service (a copy whose
# ExecStart runs the fleetd just built, since verify wants the binary to exist), the unit has the
# hardening and readiness settings it is documented with, and fleetd accepts the unit's flags with
# the example packaging/fleetd.yaml. Exits 77 (skipped) without systemd-analyze.
#
#   tests/scripts/systemd_unit_test.sh SOURCE_DIR FLEETD_BIN
set -euo pipefail

src=$1
fleetd=$2
unit="$src/packaging/fleetd.service"
config="$src/packaging/fleetd.yaml"
# shellcheck source=tests/scripts/lib.sh
. "$(dirname "$0")/lib.sh"

for setting in Type=notify User=fleetd StateDirectory=fleetd LimitNOFILE= NoNewPrivileges=yes \
  ProtectSystem=strict ReadWritePaths=/var/lib/fleetd Restart=on-failure \
  "ExecStart=/usr/local/bin/fleetd --config /etc/fleetd/fleetd.yaml --data-dir /var/lib/fleetd"; do
  grep -q "^$setting" "$unit" || fail "the unit has no $setting"
done

# The unit's flags and the example configuration: fleetd reads them without complaint.
if ! "$fleetd" --config "$config" --data-dir /var/lib/fleetd --print-config >"$tmp/printed" \
  2>"$tmp/err"; then
  fail "fleetd refuses packaging/fleetd.yaml: $(cat "$tmp/err")"
fi
grep -q '^data-dir: /var/lib/fleetd$' "$tmp/printed" || fail "--data-dir did not win: $(cat "$tmp/printed")"

command -v systemd-analyze >/dev/null || skip "no systemd-analyze"
sed "s|^ExecStart=/usr/local/bin/fleetd |ExecStart=$fleetd |" "$unit" >"$tmp/fleetd.service"
if ! systemd-analyze verify "$tmp/fleetd.service" >"$tmp/verify" 2>&1; then
  fail "systemd-analyze verify: $(cat "$tmp/verify")"
fi
# Unknown keys and bad values are only warnings to verify: none may name the unit.
if grep "fleetd.service" "$tmp/verify"; then
  fail "systemd-analyze verify warns about the unit"
fi

finish systemd_unit_test
