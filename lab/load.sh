#!/usr/bin/env bash
# load.sh — load/soak test: a private ariapp against the running lab, driven
# by cmd/ariapp-load.
#
#   lab/load.sh [ariapp-load flags...]     default: -calls 50 -duration 60s
#   flock -o /tmp/ariapp-lab-heavy.lock lab/load.sh -calls 30 -duration 10m
#
# See cmd/ariapp-load/README.md for what is checked and for the lab's
# capacity (on the 2-core lab machine Asterisk saturates between 30 and 50
# calls of Local/talk far ends).
#
# 1. checks that the lab is up (lab/lab.sh status; it does not start it);
# 2. builds ./cmd/ariapp and ./cmd/ariapp-load into a temporary directory;
# 3. starts ariapp with the repository's config.yaml, the lab's ARI
#    password, a unique Stasis application (ariapp-load-PID-RANDOM, so other
#    users of the lab are not disturbed), the control API on a free loopback
#    port and log level warn, its log going to a file;
# 4. waits for /readyz, runs ariapp-load with the given flags (after the
#    defaults, so they win);
# 5. stops ariapp with SIGTERM: it must exit with status 0 within 20 s.
#
# On failure ariapp's log tail is printed; the log and binaries are kept
# (their directory is printed) when anything failed. Exit status:
# ariapp-load's, or 1 if ariapp did not start or stop cleanly.
#
# Runs with more than 20 concurrent calls load the shared lab: take
# /tmp/ariapp-lab-heavy.lock (flock -o: the command's children must not
# inherit the lock) around them.
#
# Environment: ARIAPP_ARI_PASSWORD (default: the lab's), ARIAPP_LOAD_API
# (host:port for ariapp's API instead of a free port), ARIAPP_LOAD_KEEP=1
# (keep the temporary directory even on success).
set -euo pipefail
export LC_ALL=C

prog=load.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=lab/lib.sh
. "$here/lib.sh"

"$here/lab.sh" status >/dev/null 2>&1 ||
	die "the lab is not up (lab/lab.sh status failed); start it with: sudo lab/lab.sh up"
check_go

export ARIAPP_ARI_PASSWORD=${ARIAPP_ARI_PASSWORD:-ariapp-lab-secret}
work=$(mktemp -d "${TMPDIR:-/tmp}/ariapp-load.XXXXXX")
alog=$work/ariapp.log
pid=
keep=${ARIAPP_LOAD_KEEP:-0}

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	if [ "$keep" = 1 ]; then
		log "kept $work (ariapp.log, binaries)"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

tail_log() {
	log "last lines of ariapp's log ($alog):"
	tail -n 40 "$alog" >&2 || true
}

cd "$repo"
log "building ariapp and ariapp-load"
# -buildvcs=false: as root in a checkout owned by another user, git refuses
# to report the VCS status and the build would fail.
go build -buildvcs=false -o "$work/ariapp" ./cmd/ariapp
go build -buildvcs=false -o "$work/ariapp-load" ./cmd/ariapp-load

# A free loopback port: ask the kernel for one (the short race with other
# processes is acceptable for a test).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null ||
		echo 18090
}
listen=${ARIAPP_LOAD_API:-127.0.0.1:$(free_port)}
application=ariapp-load-$$-$RANDOM

log "starting ariapp (application $application, API $listen, log $alog)"
# ariapp gets no file descriptor beyond 0-2: under `flock LOCK lab/load.sh`
# it would otherwise inherit the lock and, if it outlived this script, hold
# it for ever. setsid: a Ctrl-C at the terminal must reach ariapp-load
# (which then hangs every call up), not ariapp; ariapp is stopped with
# SIGTERM afterwards.
(
	for fd in /proc/self/fd/*; do
		fd=${fd##*/}
		case $fd in 0 | 1 | 2) ;; *) eval "exec $fd>&-" 2>/dev/null || true ;; esac
	done
	ARIAPP_ARI_APPLICATION=$application ARIAPP_API_LISTEN=$listen ARIAPP_LOG_LEVEL=warn \
		exec setsid "$work/ariapp" --config "$repo/config.yaml" 2>"$alog"
) &
pid=$!

ready=0
for _ in $(seq 1 150); do
	if ! kill -0 "$pid" 2>/dev/null; then
		break
	fi
	if curl -fsS -o /dev/null "http://$listen/readyz" 2>/dev/null; then
		ready=1
		break
	fi
	sleep 0.1
done
if [ "$ready" != 1 ]; then
	keep=1
	log "error: ariapp did not become ready within 15 s"
	tail_log
	exit 1
fi

# In the background, so that a SIGINT or SIGTERM to this script is passed
# on at once (as SIGINT: ariapp-load stops early and cleans up).
"$work/ariapp-load" -api "http://$listen" -calls 50 -duration 60s "$@" &
lpid=$!
trap 'kill -INT "$lpid" 2>/dev/null || true' INT TERM
rc=0
wait "$lpid" || rc=$?
while kill -0 "$lpid" 2>/dev/null; do
	rc=0
	wait "$lpid" || rc=$?
done
trap - INT TERM

log "stopping ariapp (SIGTERM)"
kill -TERM "$pid"
arc=
for _ in $(seq 1 200); do
	if ! kill -0 "$pid" 2>/dev/null; then
		arc=0
		wait "$pid" || arc=$?
		break
	fi
	sleep 0.1
done
if [ -z "$arc" ]; then
	log "error: ariapp did not exit within 20 s of SIGTERM"
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	arc=timeout
fi
pid=

if [ "$arc" != 0 ]; then
	log "error: ariapp exited with status $arc after SIGTERM"
	[ "$rc" != 0 ] || rc=1
fi
if [ "$rc" != 0 ]; then
	keep=1
	tail_log
fi
exit "$rc"
