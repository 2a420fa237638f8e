# shellcheck shell=bash
# lib.sh — helpers shared by lab/run.sh and lab/test.sh (sourced, not run).
#
# Callers set "prog" (the prefix of their messages) and "repo" (the
# repository root) before sourcing this file.
# shellcheck disable=SC2154 # prog and repo come from the caller

log() { printf '%s: %s\n' "$prog" "$*" >&2; }
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }

# The caller's arguments, as sourced at its top, for need_root's re-run.
script_args=("$@")

# need_root re-runs the calling script as root through sudo when it is not
# root (keeping PATH, which finds Go, and the ARIAPP_* variables), and
# fails when there is no sudo. As root, e.g. on a fresh machine without
# sudo, it does nothing.
need_root() {
	[ "$(id -u)" = 0 ] && return 0
	command -v sudo >/dev/null 2>&1 ||
		die "must run as root (the lab needs debootstrap, chroot and mount), and sudo is not installed: run $0 as root"
	log "not root: running again with sudo"
	local keep=("PATH=$PATH") v
	for v in $(compgen -e | grep '^ARIAPP_' || true); do
		keep+=("$v=${!v}")
	done
	exec sudo -- env "${keep[@]}" "$0" "${script_args[@]}"
}

# go_required prints the Go version go.mod asks for, e.g. 1.25.
go_required() {
	sed -n 's/^go \([0-9][0-9.]*\)$/\1/p' "$repo/go.mod"
}

# version_ge A B: is dotted version A >= B?
version_ge() {
	[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}

# find_go puts the go command on PATH if it is installed where sudo's
# secure_path does not look (the official tarball goes to /usr/local/go).
find_go() {
	command -v go >/dev/null 2>&1 && return 0
	local d
	for d in /usr/local/go/bin /usr/lib/go/bin; do
		if [ -x "$d/go" ]; then
			PATH=$d:$PATH
			export PATH
			return 0
		fi
	done
	return 1
}

# check_go makes sure a Go that can build this module is available: Go >=
# go.mod's version, or Go >= 1.21 allowed to download that toolchain
# (GOTOOLCHAIN not "local"). Asking for the version inside the module
# triggers that download.
check_go() {
	local need have out
	need=$(go_required)
	find_go || die "Go is not installed. Install Go $need or newer (https://go.dev/dl/, e.g. into /usr/local/go) and run again."
	out=$(cd "$repo" && go env GOVERSION 2>&1) ||
		die "Go $(go env GOVERSION 2>/dev/null) cannot build this module (go.mod needs Go $need): $out"
	case $out in devel*) return 0 ;; esac # a development build: trust it
	have=${out#go}
	have=${have%%[!0-9.]*}
	if ! version_ge "$have" "$need"; then
		die "Go $have is too old: go.mod needs Go $need. Install Go $need or newer (https://go.dev/dl/); Go 1.21 or newer also works if GOTOOLCHAIN is not 'local' (it downloads Go $need)."
	fi
}
