#!/usr/bin/env bash
# compose.sh — ariapp's docker-compose lab (docker-compose.yml) on a machine
# whose Docker engine cannot pull images, and its end-to-end test.
#
#   lab/compose.sh seed     build local stand-ins for the base images the
#                           Dockerfiles start FROM that are not present
#                           (kept in Docker's image store and reused)
#   lab/compose.sh up       seed, then docker compose up --build -d and wait
#                           until Asterisk is healthy and ariapp ready
#   lab/compose.sh down     docker compose down -v (containers, network,
#                           volumes)
#   lab/compose.sh test     seed, bring a separate stack (project
#                           ariapp-test, its own ports) up, run the
#                           end-to-end test through the containers
#                           (e2e/compose_test.go), then take it down again,
#                           also on failure; exit status 0 only if all passed
#   lab/compose.sh images   the stand-ins and the lab's images, with sizes
#   lab/compose.sh clean    remove the stand-ins and the lab's images
#
# Stand-ins, for an image NAME:TAG that is not in the engine's store:
#   debian:SUITE, debian:SUITE-slim   debootstrap --variant=minbase SUITE,
#                                     trimmed, docker import
#   golang:X.Y                        the debian:trixie-slim stand-in plus
#                                     this machine's Go toolchain (which
#                                     must be Go X.Y) and CA certificates
#                                     (/etc/ssl/certs/ca-certificates.crt,
#                                     so that go mod download trusts what
#                                     this machine trusts); its GOPROXY and
#                                     GOSUMDB are this machine's
# Each carries the label org.ariapp.standin. A machine with a registry needs
# none of this: docker compose up --build pulls the real images.
#
# Environment: the ARIAPP_LAB_* and ARIAPP_ARI_PASSWORD variables of
# docker-compose.yml; COMPOSE_PROJECT_NAME for up/down (default ariapp).
# Needs root (debootstrap) and a Docker engine; installs debootstrap, curl
# and docker-compose from Debian's packages when missing.
set -euo pipefail
export LC_ALL=C

prog=compose.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=lab/lib.sh
. "$here/lib.sh"

lab_images=(ariapp:local ariapp-asterisk:local)
# The test's own stack: another project name and other host ports than a
# stack that lab/compose.sh up started, so both may run at once.
test_project=ariapp-test
test_ports=(ARIAPP_LAB_ARI_PORT=28088 ARIAPP_LAB_SIP_PORT=25060 ARIAPP_LAB_API_PORT=28090
	ARIAPP_LAB_RTP_START=31000 ARIAPP_LAB_RTP_END=31099)

# --- tools --------------------------------------------------------------

compose=()

ensure_tools() {
	need_root
	need_docker
	if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
		apt_install docker-compose
	fi
	if docker compose version >/dev/null 2>&1; then
		compose=(docker compose)
	else
		compose=(docker-compose)
	fi
}

# --- stand-in base images (lab/lib.sh) ----------------------------------

cmd_seed() { seed_images; }

# --- the stack ------------------------------------------------------------

# api_port and ari_port: the host ports of the current environment.
api_port() { echo "${ARIAPP_LAB_API_PORT:-18090}"; }

# wait_ready waits until Asterisk's container is healthy and ariapp's API
# answers /readyz.
wait_ready() {
	local project=$1 cid state i
	cid=$("${compose[@]}" -p "$project" ps -q asterisk)
	[ -n "$cid" ] || die "no asterisk container in project $project"
	for i in $(seq 1 120); do
		state=$(docker inspect -f '{{.State.Health.Status}}' "$cid" 2>/dev/null || echo gone)
		[ "$state" = healthy ] && break
		[ "$state" = gone ] && die "the asterisk container is gone"
		[ "$i" = 120 ] && die "asterisk not healthy after 60 s (state $state)"
		sleep 0.5
	done
	for i in $(seq 1 120); do
		curl -fsS -m 2 "http://127.0.0.1:$(api_port)/readyz" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	die "ariapp's API at 127.0.0.1:$(api_port) not ready after 60 s"
}

stack_up() {
	local project=$1 t0=$SECONDS logf
	log "docker compose -p $project up --build -d (the first build takes a few minutes)"
	logf=$(mktemp)
	# docker-compose 1.x builds with the legacy builder, which keeps a
	# failed step's container unless told otherwise.
	local rmflag=()
	[ "${compose[0]}" = docker-compose ] && rmflag=(--force-rm)
	if ! (cd "$repo" && "${compose[@]}" -p "$project" build "${rmflag[@]}" &&
		"${compose[@]}" -p "$project" up -d) >"$logf" 2>&1; then
		tail -n 60 "$logf" >&2
		rm -f "$logf"
		die "docker compose up failed"
	fi
	rm -f "$logf"
	log "built and started in $((SECONDS - t0)) s"
	wait_ready "$project"
	log "stack $project ready in $((SECONDS - t0)) s: ARI 127.0.0.1:${ARIAPP_LAB_ARI_PORT:-18088}, SIP 127.0.0.1:${ARIAPP_LAB_SIP_PORT:-15060}/udp, API 127.0.0.1:$(api_port)"
}

# leftovers prints what of a project is still there.
leftovers() {
	local f=label=com.docker.compose.project=$1
	docker ps -aq --filter "$f" | sed 's/^/container /'
	docker network ls -q --filter "$f" | sed 's/^/network /'
	docker volume ls -q --filter "$f" | sed 's/^/volume /'
}

stack_down() {
	local project=$1 left
	(cd "$repo" && "${compose[@]}" -p "$project" down -v --remove-orphans -t 10) >&2 2>&1 || true
	left=$(leftovers "$project")
	if [ -n "$left" ]; then
		log "left behind by docker compose down: $(echo "$left" | tr '\n' ' ')"
		return 1
	fi
}

cmd_up() {
	ensure_tools
	cmd_seed
	local project=${COMPOSE_PROJECT_NAME:-ariapp}
	stack_up "$project"
}

cmd_down() {
	ensure_tools
	stack_down "${COMPOSE_PROJECT_NAME:-ariapp}"
	log "stack ${COMPOSE_PROJECT_NAME:-ariapp} down"
}

test_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "$rc" != 0 ] && [ -n "${compose[*]}" ]; then
		log "failed (exit $rc); the containers' last log lines:"
		(cd "$repo" && "${compose[@]}" -p "$test_project" logs --no-color --tail=40) >&2 2>&1 || true
	fi
	if [ -n "${compose[*]}" ]; then
		stack_down "$test_project" || rc=1
	fi
	exit "$rc"
}

cmd_test() {
	local t0=$SECONDS cid_ast cid_app gw v
	ensure_tools
	check_go
	# One test stack at a time on this machine (fixed project and ports).
	exec 9>/tmp/ariapp-compose-test.lock
	flock 9
	for v in "${test_ports[@]}"; do export "${v?}"; done
	export ARIAPP_LAB_BIND=127.0.0.1
	# The e2e tests' hold tone: 300 ms on, 200 ms off, so every short
	# window has some.
	export ARIAPP_HOLD_MEDIA='tone:440/300|0/200'
	unset ARIAPP_LAB_EXTERNAL_ADDR ARIAPP_LAB_PHONE_HOST ARIAPP_API_TOKEN
	trap test_cleanup EXIT
	trap 'exit 130' INT TERM
	stack_down "$test_project" >/dev/null 2>&1 || true # a previous run's, if killed
	cmd_seed
	stack_up "$test_project"
	cid_ast=$(cd "$repo" && "${compose[@]}" -p "$test_project" ps -q asterisk)
	cid_app=$(cd "$repo" && "${compose[@]}" -p "$test_project" ps -q ariapp)
	# The host's address on the project network: the lab phones listen
	# there, and Asterisk's entrypoint made it their contact address.
	gw=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.Gateway}}{{end}}' "$cid_ast")
	[ -n "$gw" ] || die "no gateway address for the asterisk container"
	log "running e2e TestCompose (phones on $gw, SIP via 127.0.0.1:$ARIAPP_LAB_SIP_PORT)"
	(cd "$repo" && ARIAPP_COMPOSE=1 \
		ARIAPP_COMPOSE_API="http://127.0.0.1:$ARIAPP_LAB_API_PORT" \
		ARIAPP_COMPOSE_ARI="http://127.0.0.1:$ARIAPP_LAB_ARI_PORT/ari" \
		ARIAPP_COMPOSE_SIP="127.0.0.1:$ARIAPP_LAB_SIP_PORT" \
		ARIAPP_COMPOSE_PHONE_HOST="$gw" \
		ARIAPP_COMPOSE_ARIAPP_CONTAINER="$cid_app" \
		go test -race -count=1 -timeout 5m -run '^TestCompose' -v ./e2e/)
	trap - EXIT INT TERM
	stack_down "$test_project" || die "docker compose down left something behind"
	log "passed in $((SECONDS - t0)) s; nothing of project $test_project left"
}

cmd_images() {
	local i kind
	for i in $(base_images) "${lab_images[@]}"; do
		have_image "$i" || { printf '%-26s (none)\n' "$i"; continue; }
		kind=built
		case " ${lab_images[*]} " in *" $i "*) ;; *) kind=base; fresh_standin "$i" && docker image inspect -f '{{json .Config.Labels}}' "$i" | grep -q "\"$standin_label\"" && kind=stand-in ;; esac
		printf '%-26s %8s  %s\n' "$i" "$(docker images --format '{{.Size}}' "$i")" "$kind"
	done
}

cmd_clean() {
	ensure_tools
	local id pass left
	docker image rm "${lab_images[@]}" >/dev/null 2>&1 || true
	# Stand-ins, also untagged older ones; one built on another (golang
	# on debian) must go first: repeat until none is left.
	for pass in 1 2 3 4; do
		left=$(docker images -aq --filter "label=$standin_label" | sort -u)
		[ -n "$left" ] || break
		for id in $left; do
			docker image rm -f "$id" >/dev/null 2>&1 || true
		done
	done
	left=$(docker images -aq --filter "label=$standin_label" | sort -u | tr '\n' ' ')
	[ -z "$left" ] || die "could not remove images $left"
	docker image prune -f >/dev/null
	log "stand-ins and lab images removed"
}

case "${1:-}" in
seed) ensure_tools; cmd_seed ;;
up) cmd_up ;;
down) cmd_down ;;
test) cmd_test ;;
images) cmd_images ;;
clean) cmd_clean ;;
*) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
