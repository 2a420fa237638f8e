#!/usr/bin/env bash
# test.sh — ariapp's whole test suite, against the real Asterisk lab.
#
#   lab/test.sh [go test flags...]   e.g. lab/test.sh -run Hold -v
#
# 1. installs the host packages the tests need if missing (debootstrap,
#    curl, sip-tester for sipp, gcc and libc6-dev for -race, ca-certificates,
#    openssl for the lab's TLS certificates, systemd for systemd-analyze,
#    which verifies deploy/ariapp.service, prometheus for promtool, which
#    checks /metrics,
#    chromium for the console's browser tests);
# 2. starts the lab (lab/lab.sh up);
# 3. runs go vet ./... and
#    ARIAPP_REQUIRE_LAB=1 go test -race -count=1 -timeout 20m -skip Disruptive ./... [flags]
#    (ARIAPP_REQUIRE_LAB=1: tests that need Asterisk fail, not skip, when
#    the lab is unreachable); the packages run in parallel against the one
#    Asterisk;
# 4. without flags (the whole suite), then also, each stage alone against
#    the lab:
#    - the tests that measure Asterisk's load (names with "Solo", gated by
#      ARIAPP_SOLO=1: beside the other packages they would measure their
#      neighbours): ARIAPP_SOLO=1 go test -race -count=1 -run Solo ./...
#      (cmd/ariapp-bench's TestSoloLabSmallRun keeps the benchmark working,
#      TestSoloLabSIPSmoke its SIP mode with 5 calls; speed is not judged
#      there);
#    - the load test: lab/load.sh -calls 50 -duration 60s (50 concurrent
#      calls with random hold, resume and hang-up, every event sequence
#      checked against SPEC, leftovers, leaks and the legs' media formats
#      checked; calls shed at capacity are counted apart, within a bound);
#    - the disruptive tests, which restart Asterisk, on their own:
#      ARIAPP_DISRUPTIVE=1 go test -race -count=1 -run Disruptive ./cmd/ariapp/
#    - last, so that building images does not load the machine during the
#      timing-sensitive stages: the docker-compose lab, lab/compose.sh test
#      (its own ports, beside the chroot lab; on a machine without a
#      Docker engine this stage is reported as skipped, not passed, except
#      under CI, where it fails)
#    - then the cluster lab, lab/cluster.sh test (two Asterisk nodes, three
#      ariapp instances and a NATS server as containers, on networks of
#      their own; it reuses the compose stage's images; skipped, or failed
#      under CI, without a Docker engine, as is a scenario it skips)
# 5. prints a summary. Exit status: 0 only if every stage passed.
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
	[openssl]=/usr/bin/openssl
	[systemd]=/usr/bin/systemd-analyze
	[prometheus]=/usr/bin/promtool
	[chromium]=/usr/bin/chromium
)
missing=()
for p in "${!pkgs[@]}"; do
	[ -e "${pkgs[$p]}" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
	log "installing ${missing[*]}"
	apt-get update -qq
	# prometheus is wanted for promtool alone: without its recommended
	# node exporter, and its server, which a systemd host starts on
	# install, stopped again.
	rest=() prom=()
	for p in "${missing[@]}"; do
		if [ "$p" = prometheus ]; then prom+=("$p"); else rest+=("$p"); fi
	done
	if [ ${#rest[@]} -gt 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${rest[@]}" >/dev/null
	fi
	if [ ${#prom[@]} -gt 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${prom[@]}" >/dev/null
		if [ -d /run/systemd/system ]; then
			systemctl disable --now prometheus.service >/dev/null 2>&1 || true
		fi
	fi
fi

check_go
"$here/lab.sh" up

cd "$repo"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
declare -a names=() results=() skipped=()
record() { names+=("$1"); results+=("$2"); }

printf '\n=== go vet ./...\n'
rc=0
go vet ./... || rc=$?
record "go vet" "$rc"

printf '\n=== ARIAPP_REQUIRE_LAB=1 go test -race -count=1 -timeout 20m -skip Disruptive ./... %s\n' "$*"
t0=$SECONDS
set +e
ARIAPP_REQUIRE_LAB=1 go test -race -count=1 -timeout 20m -skip Disruptive ./... "$@" 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e
record "go test ($((SECONDS - t0)) s)" "$rc"

if [ $# -eq 0 ]; then
	printf '\n=== ARIAPP_SOLO=1 go test -race -count=1 -run Solo ./... (measures Asterisk; alone)\n'
	t0=$SECONDS
	set +e
	ARIAPP_REQUIRE_LAB=1 ARIAPP_SOLO=1 go test -race -count=1 -timeout 10m -run Solo ./... 2>&1 | grep -Ev 'no test files|no tests to run'
	rc=${PIPESTATUS[0]}
	set -e
	record "load-measuring tests, alone ($((SECONDS - t0)) s)" "$rc"

	printf '\n=== lab/load.sh -calls 50 -duration 60s (silent far ends)\n'
	t0=$SECONDS
	rc=0
	"$here/load.sh" -calls 50 -duration 60s -from Local/idle@ariapp-test -to Local/idle@ariapp-test || rc=$?
	record "load test, 50 calls for 60 s ($((SECONDS - t0)) s)" "$rc"

	printf '\n=== ARIAPP_DISRUPTIVE=1 go test -race -count=1 -run Disruptive -v ./cmd/ariapp/ (restarts Asterisk)\n'
	t0=$SECONDS
	set +e
	ARIAPP_REQUIRE_LAB=1 ARIAPP_DISRUPTIVE=1 go test -race -count=1 -timeout 10m -run Disruptive -v ./cmd/ariapp/ 2>&1 |
		grep -E '^(=== RUN|--- |PASS|FAIL|ok |panic|\s+\S+_test\.go:)'
	rc=${PIPESTATUS[0]}
	set -e
	record "disruptive tests ($((SECONDS - t0)) s)" "$rc"
	"$here/lab.sh" up >/dev/null 2>&1 || true

	printf '\n=== lab/compose.sh test (the docker-compose lab, images built here)\n'
	t0=$SECONDS
	if [ -n "${CI:-}" ] || { command -v docker >/dev/null && docker info >/dev/null 2>&1; }; then
		rc=0
		"$here/compose.sh" test || rc=$?
		record "docker-compose lab ($((SECONDS - t0)) s)" "$rc"
	else
		echo "no Docker engine: skipped"
		skipped+=("docker-compose lab (no Docker engine)")
	fi

	printf '\n=== lab/cluster.sh test (two Asterisk nodes, three ariapp instances, NATS)\n'
	t0=$SECONDS
	if [ -n "${CI:-}" ] || { command -v docker >/dev/null && docker info >/dev/null 2>&1; }; then
		rc=0
		"$here/cluster.sh" test || rc=$?
		record "cluster lab ($((SECONDS - t0)) s)" "$rc"
	else
		echo "no Docker engine: skipped"
		skipped+=("cluster lab (no Docker engine)")
	fi
fi

verdict() { if [ "$1" = 0 ]; then echo ok; else echo "FAILED (exit $1)"; fi; }
printf '\n=== summary\n'
echo "lab: $("$here/lab.sh" status 2>&1 || true); left running (lab/lab.sh down stops it)"
final=0
for i in "${!names[@]}"; do
	printf '%-52s %s\n' "${names[$i]}:" "$(verdict "${results[$i]}")"
	[ "${results[$i]}" = 0 ] || final=${results[$i]}
done
for n in "${skipped[@]}"; do
	printf '%-52s %s\n' "$n:" "SKIPPED"
done
echo "go test per package (step 2):"
grep -E '^(ok |FAIL|\? |panic:)' "$out" || echo "(no package results; see the output above)"
exit "$final"
