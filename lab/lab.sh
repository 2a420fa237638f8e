#!/usr/bin/env bash
# lab.sh — build, start, stop and inspect ariapp's Asterisk lab.
#
# The lab is a minimal Debian sid chroot (Debian bookworm ships no Asterisk)
# with Asterisk 22 installed from Debian's packages. Asterisk runs inside the
# chroot as root and listens on 127.0.0.1 only (ARI on :8088, SIP on :5060).
#
#   lab/lab.sh up        build the chroot if needed, install asterisk/ configs,
#                        start Asterisk and wait until ARI answers (idempotent)
#   lab/lab.sh down      stop Asterisk and unmount /proc and /dev from the chroot
#   lab/lab.sh restart   down, then up
#   lab/lab.sh status    print whether Asterisk runs and ARI answers (exit 1 if not)
#   lab/lab.sh cli CMD   run an Asterisk CLI command, e.g. lab/lab.sh cli 'core show channels'
#   lab/lab.sh reload    reinstall asterisk/ configs and reload Asterisk
#   lab/lab.sh clean     hang up every channel and destroy every bridge, e.g.
#                        what an interrupted test run left behind
#
# Environment:
#   ARIAPP_LAB_ROOT   where the chroot lives (default /var/lib/ariapp-lab/sid);
#                     outside the checkout, so a second clone on the same
#                     machine reuses it.
#   ARIAPP_LAB_ARI    ARI base URL to wait for (default http://127.0.0.1:8088/ari)
#   ARIAPP_LAB_USER / ARIAPP_LAB_PASS   ARI credentials to probe with
#                     (default: the lab's, from asterisk/ari.conf)
#
# Needs root (debootstrap, chroot, mount). Writes no package-mirror host:
# debootstrap uses its own default mirror.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
root=${ARIAPP_LAB_ROOT:-/var/lib/ariapp-lab/sid}
ari=${ARIAPP_LAB_ARI:-http://127.0.0.1:8088/ari}
user=${ARIAPP_LAB_USER:-ariapp}
pass=${ARIAPP_LAB_PASS:-ariapp-lab-secret}
packages=asterisk,asterisk-core-sounds-en,asterisk-moh-opsound-wav,procps
# Directories the Debian package gives to the asterisk user; the lab runs
# Asterisk as root, which must own them or Asterisk cannot open its database.
astdirs=(/var/lib/asterisk /var/spool/asterisk /var/log/asterisk /var/run/asterisk /var/cache/asterisk /etc/asterisk)

log() { printf 'lab: %s\n' "$*" >&2; }
die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

need_root() { [ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot and mount need it)"; }

ensure_host_tools() {
	local missing=()
	command -v debootstrap >/dev/null || missing+=(debootstrap)
	command -v curl >/dev/null || missing+=(curl)
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	fi
}

build_chroot() {
	if [ -f "$root/.ariapp-lab-ready" ]; then
		return 0
	fi
	ensure_host_tools
	local tmp="$root.partial"
	umount_all "$tmp"
	rm -rf "$tmp"
	mkdir -p "$(dirname "$root")"
	log "building Debian sid chroot with Asterisk in $root (about a minute)"
	local t0=$SECONDS
	debootstrap --variant=minbase --include="$packages" sid "$tmp" >"$tmp.log" 2>&1 ||
		{ tail -n 30 "$tmp.log" >&2; die "debootstrap failed (full log: $tmp.log)"; }
	# Keep the package's sample configs aside; the lab installs its own.
	mv "$tmp/etc/asterisk" "$tmp/etc/asterisk.dist"
	mkdir -p "$tmp/etc/asterisk"
	rm -rf "$root"
	mv "$tmp" "$root"
	rm -f "$tmp.log"
	date -u +%FT%TZ >"$root/.ariapp-lab-ready"
	log "chroot built in $((SECONDS - t0)) s"
}

is_mounted() { mountpoint -q "$1" 2>/dev/null; }

mount_all() {
	is_mounted "$root/proc" || mount -t proc proc "$root/proc"
	is_mounted "$root/dev" || mount --bind /dev "$root/dev"
}

umount_all() {
	local dir=$1
	[ -d "$dir" ] || return 0
	is_mounted "$dir/dev" && umount -l "$dir/dev" || true
	is_mounted "$dir/proc" && umount -l "$dir/proc" || true
}

install_configs() {
	rm -rf "$root/etc/asterisk"
	mkdir -p "$root/etc/asterisk"
	cp "$repo"/asterisk/*.conf "$root/etc/asterisk/"
	for d in "${astdirs[@]}"; do
		mkdir -p "$root$d"
		chown -R root:root "$root$d"
	done
}

# asterisk_pid prints the pid of the Asterisk started from this chroot, if any.
asterisk_pid() {
	local p exe
	for p in $(pgrep -x asterisk 2>/dev/null); do
		exe=$(readlink "/proc/$p/root" 2>/dev/null) || continue
		if [ "$exe" = "$(readlink -f "$root")" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

ari_up() {
	curl -fsS -m 2 -u "$user:$pass" "$ari/asterisk/ping" >/dev/null 2>&1
}

wait_ari() {
	local i
	for i in $(seq 1 300); do
		ari_up && return 0
		asterisk_pid >/dev/null || die "Asterisk exited during start-up; see $root/var/log/asterisk/messages and $root/var/log/asterisk/console.log"
		sleep 0.1
	done
	die "ARI did not answer at $ari within 30 s"
}

cmd_up() {
	need_root
	local t0=$SECONDS
	build_chroot
	mount_all
	if asterisk_pid >/dev/null && ari_up; then
		log "Asterisk already running, ARI answers at $ari"
		return 0
	fi
	if asterisk_pid >/dev/null; then
		log "Asterisk runs but ARI does not answer; restarting it"
		stop_asterisk
	fi
	install_configs
	# Port 5060 or 8088 taken by something else would make Asterisk half-start.
	log "starting Asterisk"
	# Asterisk must not inherit our other descriptors: under
	# `flock LOCK lab/lab.sh up` it would hold the lock for as long as it runs.
	(
		for fd in /proc/self/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-"
		done
		exec chroot "$root" /usr/sbin/asterisk -f -n -g >"$root/var/log/asterisk/console.log" 2>&1 </dev/null
	) &
	disown || true
	wait_ari
	log "Asterisk $(chroot "$root" /usr/sbin/asterisk -V 2>/dev/null | sed 's/^Asterisk //') up, ARI at $ari ($((SECONDS - t0)) s)"
	startup_notes
}

# startup_notes shows what Asterisk said on its console while starting
# (verbose 0: only its complaints, e.g. about a config option it does not
# know), so a config that Asterisk reads otherwise than meant is seen.
startup_notes() {
	local line
	while IFS= read -r line; do
		case $line in "PBX UUID: "* | "Asterisk Ready." | "") continue ;; esac
		log "Asterisk at start: $line"
	done < <(sed '/^Asterisk Ready\.$/q' "$root/var/log/asterisk/console.log" 2>/dev/null)
}

stop_asterisk() {
	local pid
	pid=$(asterisk_pid) || return 0
	chroot "$root" /usr/sbin/asterisk -rx 'core stop now' >/dev/null 2>&1 || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	sleep 0.2
}

cmd_down() {
	need_root
	stop_asterisk
	umount_all "$root"
	log "Asterisk stopped"
}

cmd_status() {
	if pid=$(asterisk_pid); then
		if ari_up; then
			echo "asterisk: running (pid $pid), ARI answers at $ari"
			return 0
		fi
		echo "asterisk: running (pid $pid), ARI does NOT answer at $ari"
		return 1
	fi
	if [ -f "$root/.ariapp-lab-ready" ]; then
		echo "asterisk: stopped (chroot ready at $root)"
	else
		echo "asterisk: stopped (no chroot at $root yet; lab/lab.sh up builds it)"
	fi
	return 1
}

cmd_cli() {
	need_root
	asterisk_pid >/dev/null || die "Asterisk is not running (lab/lab.sh up)"
	chroot "$root" /usr/sbin/asterisk -rx "$*"
}

cmd_reload() {
	need_root
	asterisk_pid >/dev/null || die "Asterisk is not running (lab/lab.sh up)"
	install_configs
	chroot "$root" /usr/sbin/asterisk -rx 'core reload' >/dev/null
	log "configs reloaded"
}

cmd_clean() {
	local kind id n
	ari_up || die "ARI does not answer at $ari"
	for kind in channels bridges; do
		n=0
		# Neither a channel nor a bridge has a nested "id": every "id" is one.
		for id in $(curl -fsS -m 5 -u "$user:$pass" "$ari/$kind" | grep -o '"id":"[^"]*"' | sed 's/"id":"\(.*\)"/\1/'); do
			curl -fsS -m 5 -u "$user:$pass" -X DELETE "$ari/$kind/$id" >/dev/null 2>&1 && n=$((n + 1))
		done
		log "$kind removed: $n"
	done
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
restart) cmd_down; cmd_up ;;
status) cmd_status ;;
cli) shift; cmd_cli "$@" ;;
reload) cmd_reload ;;
clean) cmd_clean ;;
*) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
