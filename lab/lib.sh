# shellcheck shell=bash
# lib.sh — helpers shared by the lab's scripts (sourced, not run).
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

# --- Docker: stand-ins for the base images --------------------------------
# For lab/compose.sh and lab/cluster.sh, on a Docker engine that cannot pull
# images: local stand-ins for the images the repository's Dockerfiles start
# FROM (see lab/compose.sh's header for the recipes), labelled
# org.ariapp.standin and kept in the engine's store.

standin_label=org.ariapp.standin
# Raised whenever a stand-in recipe changes: older stand-ins are rebuilt.
standin_recipe=2

# need_docker fails unless a Docker engine answers, and installs the
# packages the stand-ins need (debootstrap, curl) when missing.
need_docker() {
	command -v docker >/dev/null || die "no docker command: this lab needs a Docker engine"
	docker info >/dev/null 2>&1 || die "the Docker engine does not answer (docker info)"
	local missing=()
	command -v debootstrap >/dev/null || missing+=(debootstrap)
	command -v curl >/dev/null || missing+=(curl)
	apt_install "${missing[@]}"
}

# apt_install PKG...: install Debian packages (none: nothing to do).
apt_install() {
	[ $# -gt 0 ] || return 0
	command -v apt-get >/dev/null || die "missing $* and no apt-get to install them"
	log "installing $*"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}


have_image() { docker image inspect "$1" >/dev/null 2>&1; }

# base_images prints the images the Dockerfiles start FROM (not their own
# stages).
base_images() {
	local f
	for f in "$repo/Dockerfile" "$repo/asterisk/Dockerfile"; do
		awk 'toupper($1) == "FROM" {
			img = $2; for (i = 3; i < NF; i++) if (toupper($i) == "AS") stage[$(i + 1)] = 1
			if (!(img in stage)) print img
		}' "$f"
	done | sort -u
}

# standin_debian IMAGE SUITE: debootstrap SUITE and import it as IMAGE.
standin_debian() {
	local image=$1 suite=$2 dir t0=$SECONDS
	dir=$(mktemp -d /var/tmp/ariapp-standin.XXXXXX)
	log "building $image from Debian $suite (debootstrap, about half a minute)"
	if ! debootstrap --variant=minbase "$suite" "$dir/root" >"$dir/log" 2>&1; then
		tail -n 30 "$dir/log" >&2
		rm -rf "$dir"
		die "debootstrap $suite failed"
	fi
	# What a container image leaves out: package caches and lists, docs,
	# and the files Docker provides at run time.
	rm -rf "$dir/root"/var/cache/apt/archives/*.deb "$dir/root"/var/lib/apt/lists/* \
		"$dir/root"/usr/share/doc/* "$dir/root"/usr/share/man/* "$dir/root"/usr/share/info/* \
		"$dir/root"/var/log/*.log "$dir/root"/var/cache/debconf/*-old "$dir/root"/var/lib/dpkg/*-old
	: >"$dir/root/etc/resolv.conf"
	rm -f "$dir/root/etc/hostname"
	# The packages are this machine's: so is what apt checks of their
	# Release files (a mirror of a snapshot has an expired Valid-Until, and
	# the machine's apt is told not to mind).
	apt-config dump Acquire::Check-Valid-Until Acquire::Check-Date 2>/dev/null |
		grep -E '^Acquire::Check-(Valid-Until|Date) ' >"$dir/root/etc/apt/apt.conf.d/99ariapp-host" || true
	[ -s "$dir/root/etc/apt/apt.conf.d/99ariapp-host" ] || rm -f "$dir/root/etc/apt/apt.conf.d/99ariapp-host"
	tar -C "$dir/root" --numeric-owner -c . |
		docker import \
			--change "LABEL $standin_label=debootstrap-$suite $standin_label.recipe=$standin_recipe" \
			--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			--change 'CMD ["bash"]' - "$image" >/dev/null
	rm -rf "$dir"
	log "$image built in $((SECONDS - t0)) s"
}

# standin_golang IMAGE VERSION: debian:trixie-slim plus this machine's Go.
standin_golang() {
	local image=$1 want=$2 goroot have t0=$SECONDS ctr
	check_go
	goroot=$(go env GOROOT)
	have=$(go env GOVERSION)
	case $have in
	"go$want" | "go$want".*) ;;
	*) die "$image needs Go $want, this machine has $have in $goroot: install Go $want to build the stand-in" ;;
	esac
	ensure_image debian:trixie-slim
	log "building $image from debian:trixie-slim, $goroot ($have) and this machine's CA certificates"
	# docker create + cp + commit: no build context to send, no apt run.
	ctr=$(docker create debian:trixie-slim)
	if ! { docker cp "$goroot/." "$ctr:/usr/local/go" &&
		tar -C / -ch etc/ssl/certs/ca-certificates.crt | docker cp - "$ctr:/" &&
		docker commit \
			--change "ENV GOLANG_VERSION=${have#go}" --change 'ENV GOTOOLCHAIN=local' --change 'ENV GOPATH=/go' \
			--change "ENV GOPROXY=$(go env GOPROXY)" --change "ENV GOSUMDB=$(go env GOSUMDB)" \
			--change 'ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
			--change 'WORKDIR /go' --change "LABEL $standin_label=go-$have $standin_label.recipe=$standin_recipe" --change 'CMD ["bash"]' \
			"$ctr" "$image" >/dev/null; }; then
		docker rm -f "$ctr" >/dev/null 2>&1 || true
		die "building $image failed"
	fi
	docker rm -f "$ctr" >/dev/null
	log "$image built in $((SECONDS - t0)) s"
}

# fresh_standin IMAGE: is IMAGE present and not an outdated stand-in?
fresh_standin() {
	local labels
	have_image "$1" || return 1
	labels=$(docker image inspect -f '{{json .Config.Labels}}' "$1")
	case $labels in
	*"\"$standin_label\":"*) ;;
	*) return 0 ;; # not a stand-in: the real image
	esac
	case $labels in *"\"$standin_label.recipe\":\"$standin_recipe\""*) return 0 ;; esac
	return 1
}

# ensure_image IMAGE: present (pulled earlier, or a stand-in built before),
# or build a stand-in.
ensure_image() {
	local image=$1 name tag
	fresh_standin "$image" && return 0
	if have_image "$image"; then
		log "$image is a stand-in of an older recipe: rebuilding it"
		docker image rm "$image" >/dev/null
	fi
	name=${image%%:*}
	tag=${image#*:}
	[ "$tag" != "$image" ] || tag=latest
	case $name in
	debian) standin_debian "$image" "${tag%-slim}" ;;
	golang) standin_golang "$image" "$tag" ;;
	*) die "no stand-in recipe for base image $image (add one to lab/lib.sh)" ;;
	esac
}

# seed_images builds every stand-in the Dockerfiles need (and
# debian:trixie-slim, the base of the lab's own images) that is missing.
seed_images() {
	local img t0=$SECONDS pids=() suite
	# The Debian stand-ins first, side by side (debootstrap mostly waits
	# for the network).
	for img in $(base_images) debian:trixie-slim; do
		case $img in debian:*) ;; *) continue ;; esac
		fresh_standin "$img" && continue
		case " ${pids[*]} " in *" $img="*) continue ;; esac
		suite=${img#debian:}
		standin_debian "$img" "${suite%-slim}" &
		pids+=("$img=$!")
	done
	for img in "${pids[@]}"; do
		wait "${img#*=}" || die "stand-in ${img%%=*} failed"
	done
	while read -r img; do
		ensure_image "$img"
	done < <(base_images)
	log "base images ready ($(base_images | tr '\n' ' ')) in $((SECONDS - t0)) s"
}
