#!/usr/bin/env bash
# lab.sh — build, start, stop and inspect ariapp's Asterisk lab.
#
# The lab is a minimal Debian sid chroot (Debian bookworm ships no Asterisk)
# with Asterisk 22 installed from Debian's packages. Asterisk runs inside the
# chroot as root and listens on 127.0.0.1 only (ARI on :8088, ARI over TLS
# on :8089, SIP on :5060).
#
#   lab/lab.sh up        build the chroot if needed, install asterisk/ configs,
#                        start Asterisk and wait until ARI answers, on http
#                        and on https (idempotent: a running Asterisk is left
#                        running; one without the TLS listener reloads http)
#   lab/lab.sh down      stop Asterisk and unmount /proc and /dev from the chroot
#   lab/lab.sh restart   down, then up
#   lab/lab.sh status    print whether Asterisk runs and ARI answers (exit 1 if not)
#   lab/lab.sh cli CMD   run an Asterisk CLI command, e.g. lab/lab.sh cli 'core show channels'
#   lab/lab.sh reload    reinstall asterisk/ configs and reload Asterisk
#   lab/lab.sh tls-ca    print the path of the lab CA's certificate, which
#                        signed the certificate ARI serves on :8089
#   lab/lab.sh clean     hang up every channel and destroy every bridge, e.g.
#                        what an interrupted test run left behind
#
# Environment:
#   ARIAPP_LAB_ROOT   where the chroot lives (default /var/lib/ariapp-lab/sid);
#                     outside the checkout, so a second clone on the same
#                     machine reuses it.
#   ARIAPP_LAB_ARI    ARI base URL to wait for (default http://127.0.0.1:8088/ari)
#   ARIAPP_LAB_ARI_TLS  ARI base URL over TLS (default https://127.0.0.1:8089/ari)
#   ARIAPP_LAB_TLS    where the lab CA and the server certificate live
#                     (default: tls/ beside the chroot, /var/lib/ariapp-lab/tls);
#                     generated once, kept when the chroot is rebuilt
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
ari_tls=${ARIAPP_LAB_ARI_TLS:-https://127.0.0.1:8089/ari}
tlsdir=${ARIAPP_LAB_TLS:-$(dirname "$root")/tls}
# Where asterisk/http.conf's tlscertfile and tlsprivatekey point, in the chroot.
tls_keys=/etc/asterisk/keys
user=${ARIAPP_LAB_USER:-ariapp}
pass=${ARIAPP_LAB_PASS:-ariapp-lab-secret}
packages=asterisk,asterisk-core-sounds-en,asterisk-moh-opsound-wav,procps
# Directories the Debian package gives to the asterisk user; the lab runs
# Asterisk as root, which must own them or Asterisk cannot open its database.
astdirs=(/var/lib/asterisk /var/spool/asterisk /var/log/asterisk /var/run/asterisk /var/cache/asterisk /etc/asterisk)

log() { printf 'lab: %s\n' "$*" >&2; }
die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

# The arguments, for need_root's re-run.
script_args=("$@")

# need_root re-runs lab.sh as root through sudo when it is not root (with
# the ARIAPP_* variables), and fails when there is no sudo.
need_root() {
	[ "$(id -u)" = 0 ] && return 0
	command -v sudo >/dev/null 2>&1 ||
		die "must run as root (debootstrap, chroot and mount need it), and sudo is not installed: run $0 as root"
	local keep=() v
	for v in $(compgen -e | grep '^ARIAPP_' || true); do
		keep+=("$v=${!v}")
	done
	exec sudo -- env "${keep[@]}" "$0" "${script_args[@]}"
}

ensure_host_tools() {
	local missing=()
	command -v debootstrap >/dev/null || missing+=(debootstrap)
	command -v curl >/dev/null || missing+=(curl)
	command -v openssl >/dev/null || missing+=(openssl)
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

# ensure_tls makes the lab CA and the certificate ARI serves over TLS, once:
# both stay in $tlsdir, so a test's trusted CA is the same across chroot
# rebuilds. A server certificate that is missing, expires within a day or
# does not verify against the CA is made again; the CA is kept.
ensure_tls() {
	if [ -f "$tlsdir/ca.pem" ] && [ -f "$tlsdir/server.pem" ] && [ -f "$tlsdir/server.key" ] &&
		openssl verify -CAfile "$tlsdir/ca.pem" "$tlsdir/server.pem" >/dev/null 2>&1 &&
		openssl x509 -in "$tlsdir/server.pem" -noout -checkend 86400 >/dev/null 2>&1; then
		return 0
	fi
	command -v openssl >/dev/null || ensure_host_tools
	mkdir -p "$tlsdir"
	chmod 755 "$tlsdir"
	local tmp
	tmp=$(mktemp -d "$tlsdir/.new.XXXXXX")
	if [ ! -f "$tlsdir/ca.pem" ] || [ ! -f "$tlsdir/ca.key" ]; then
		log "creating the lab CA in $tlsdir"
		openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
			-keyout "$tmp/ca.key" -out "$tmp/ca.pem" -days 3650 -subj "/CN=ariapp lab CA" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
			>"$tmp/openssl.log" 2>&1 || { cat "$tmp/openssl.log" >&2; die "openssl could not create the lab CA"; }
		chmod 600 "$tmp/ca.key"
		mv "$tmp/ca.key" "$tlsdir/ca.key"
		mv "$tmp/ca.pem" "$tlsdir/ca.pem"
	fi
	log "creating ARI's TLS certificate (127.0.0.1, localhost) signed by the lab CA"
	openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-keyout "$tmp/server.key" -out "$tmp/server.csr" -subj "/CN=ariapp lab Asterisk" \
		>"$tmp/openssl.log" 2>&1 || { cat "$tmp/openssl.log" >&2; die "openssl could not create the server key"; }
	printf '%s\n' basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature \
		extendedKeyUsage=serverAuth subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost >"$tmp/server.ext"
	openssl x509 -req -in "$tmp/server.csr" -CA "$tlsdir/ca.pem" -CAkey "$tlsdir/ca.key" -CAcreateserial \
		-out "$tmp/server.pem" -days 825 -extfile "$tmp/server.ext" \
		>"$tmp/openssl.log" 2>&1 || { cat "$tmp/openssl.log" >&2; die "openssl could not sign the server certificate"; }
	chmod 600 "$tmp/server.key"
	mv "$tmp/server.key" "$tlsdir/server.key"
	mv "$tmp/server.pem" "$tlsdir/server.pem"
	rm -rf "$tmp"
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
	# the lab's own sounds (the hold tone as a file): sounds/ariapp/
	rm -rf "$root/usr/share/asterisk/sounds/ariapp"
	cp -r "$repo/asterisk/sounds/ariapp" "$root/usr/share/asterisk/sounds/ariapp"
	install -d -m 700 "$root$tls_keys"
	install -m 644 "$tlsdir/server.pem" "$root$tls_keys/ariapp-lab.pem"
	install -m 600 "$tlsdir/server.key" "$root$tls_keys/ariapp-lab.key"
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

# ari_tls_up: does ARI answer over TLS with a certificate the lab CA signed?
ari_tls_up() {
	curl -fsS -m 2 --cacert "$tlsdir/ca.pem" -u "$user:$pass" "$ari_tls/asterisk/ping" >/dev/null 2>&1
}

wait_ari_tls() {
	local i why
	for i in $(seq 1 50); do
		ari_tls_up && return 0
		sleep 0.1
	done
	why=$(curl -sS -m 2 --cacert "$tlsdir/ca.pem" -u "$user:$pass" "$ari_tls/asterisk/ping" 2>&1 >/dev/null | tr '\n' ' ')
	die "ARI does not answer over TLS at $ari_tls (${why% }); see $root/var/log/asterisk/messages"
}

# reload_http makes a running Asterisk read http.conf again (the TLS
# listener starts) without a restart: calls, channels and other clients'
# WebSockets stay up.
reload_http() {
	install_configs
	chroot "$root" /usr/sbin/asterisk -rx 'module reload http' >/dev/null
	wait_ari_tls
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
	ensure_tls
	mount_all
	if asterisk_pid >/dev/null && ari_up; then
		if ! ari_tls_up; then
			log "Asterisk running without ARI over TLS; reloading its HTTP server"
			reload_http
		fi
		log "Asterisk already running, ARI answers at $ari and $ari_tls"
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
	wait_ari_tls
	log "Asterisk $(chroot "$root" /usr/sbin/asterisk -V 2>/dev/null | sed 's/^Asterisk //') up, ARI at $ari and $ari_tls (CA $tlsdir/ca.pem) ($((SECONDS - t0)) s)"
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
		if ari_up && ari_tls_up; then
			echo "asterisk: running (pid $pid), ARI answers at $ari and $ari_tls"
			return 0
		fi
		if ari_up; then
			echo "asterisk: running (pid $pid), ARI answers at $ari but NOT over TLS at $ari_tls (lab/lab.sh up reloads it)"
			return 1
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
	ensure_tls
	install_configs
	chroot "$root" /usr/sbin/asterisk -rx 'core reload' >/dev/null
	log "configs reloaded"
}

cmd_tls_ca() {
	[ -f "$tlsdir/ca.pem" ] || die "no lab CA at $tlsdir/ca.pem yet; lab/lab.sh up creates it"
	echo "$tlsdir/ca.pem"
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
tls-ca) cmd_tls_ca ;;
clean) cmd_clean ;;
*) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
