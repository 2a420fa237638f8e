#!/usr/bin/env bash
# test.sh — ariapp's whole test suite, against the real Asterisk lab.
#
#   sudo lab/test.sh [go test flags...]   e.g. sudo lab/test.sh -run Hold -v
#
# 1. installs the host packages the tests need if missing (debootstrap,
#    curl, sip-tester for sipp, gcc and libc6-dev for -race, ca-certificates);
# 2. starts the lab (lab/lab.sh up);
# 3. runs go vet ./... and
#    ARIAPP_REQUIRE_LAB=1 go test -race -count=1 -timeout 20m ./... [flags]
#    (ARIAPP_REQUIRE_LAB=1: tests that need Asterisk fail, not skip, when
#    the lab is unreachable);
# 4. prints a summary. Exit status: go test's; if go test passed, go vet's.
#
# The lab is left running afterwards (lab/lab.sh down stops it).
set -euo pipefail
export LC_ALL=C

prog=test.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=lab/lib.sh
. "$here/lib.sh"

need_root

# Package -> a file it installs, to tell whether it is there.
declare -A pkgs=(
	[debootstrap]=/usr/sbin/debootstrap
	[curl]=/usr/bin/curl
	[sip-tester]=/usr/bin/sipp
	[gcc]=/usr/bin/gcc
	[libc6-dev]=/usr/include/stdio.h
	[ca-certificates]=/etc/ssl/certs/ca-certificates.crt
)
missing=()
for p in "${!pkgs[@]}"; do
	[ -e "${pkgs[$p]}" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
	log "installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

check_go
"$here/lab.sh" up

cd "$repo"
out=$(mktemp)
trap 'rm -f "$out"' EXIT

printf '\n=== go vet ./...\n'
vet_rc=0
go vet ./... || vet_rc=$?

printf '\n=== ARIAPP_REQUIRE_LAB=1 go test -race -count=1 -timeout 20m ./... %s\n' "$*"
t0=$SECONDS
set +e
ARIAPP_REQUIRE_LAB=1 go test -race -count=1 -timeout 20m ./... "$@" 2>&1 | tee "$out"
test_rc=${PIPESTATUS[0]}
set -e
took=$((SECONDS - t0))

verdict() { if [ "$1" = 0 ]; then echo ok; else echo "FAILED (exit $1)"; fi; }
printf '\n=== summary\n'
echo "lab:     $("$here/lab.sh" status 2>&1 || true); left running (lab/lab.sh down stops it)"
echo "go vet:  $(verdict "$vet_rc")"
echo "go test: $(verdict "$test_rc") in ${took}s; per package:"
grep -E '^(ok |FAIL|\? |panic:)' "$out" || echo "(no package results; see the output above)"

if [ "$test_rc" != 0 ]; then
	exit "$test_rc"
fi
exit "$vet_rc"
