#!/usr/bin/env bash
# cluster.sh — ariapp as a cluster in containers: two Asterisk nodes, three
# ariapp instances sharing them through leases in a NATS JetStream
# key-value bucket, and one NATS server; and the cluster's scenario test.
#
#   lab/cluster.sh up       build the images (the stand-ins of
#                           lab/compose.sh, ariapp:local from the
#                           repository's Dockerfile, ariapp-asterisk:local
#                           from asterisk/, ariapp-nats:local), create the
#                           networks and start the containers; wait until
#                           every one is ready
#   lab/cluster.sh down     remove every container, network and volume of
#                           the cluster
#   lab/cluster.sh status   the containers, their addresses, which instance
#                           Asterisk sees connected to each node, NATS
#   lab/cluster.sh test     down, up, the scenarios (e2e/cluster_test.go,
#                           TestCluster*, with 10 kills in TestClusterBench),
#                           down again, also on failure; exit status 0 only
#                           if every scenario ran and passed (a skipped
#                           scenario is a failure)
#   lab/cluster.sh bench [KILLS]
#                           the same around TestClusterBench alone: KILLS
#                           (default 12) kill -9s of a node's owner, the
#                           takeover time's p50 and max
#   lab/cluster.sh clean    down, and remove the NATS image (the stand-ins
#                           and the lab images: lab/compose.sh clean)
#
# Topology (nothing is published on a host port; the host reaches every
# container on its private address, and is the gateway .1 of both
# networks, where the test's SIP phones listen):
#
#   network ariapp-cluster-ari   ${ARIAPP_CLUSTER_NET_ARI:-10.214.14}.0/24: ARI, SIP, RTP, the API
#     .11 ariapp-cluster-ast1    Asterisk, systemname ast1 (channel ids
#                                ast1-...), its own entityid; phones
#                                alice, bob, carol at .1:5071-5073
#     .12 ariapp-cluster-ast2    the same as ast2; phones at .1:5081-5083
#     .21 .22 .23 ariapp-cluster-a1, -a2, -a3
#                                ariapp, control API on :8090
#   network ariapp-cluster-nats  ${ARIAPP_CLUSTER_NET_NATS:-10.214.15}.0/24: NATS only
#     .10 ariapp-cluster-nats    nats-server -js -sd /data (client :4222,
#                                monitoring :8222)
#     .21 .22 .23                the instances again: docker network
#                                disconnect cuts one off NATS alone
#
# Each instance reads a config file of its own (written at up, copied into
# its container as /etc/ariapp/cluster.yaml): both nodes, and the cluster
# block with its instance name. An ariapp without cluster support (no
# cluster.nats_url key) gets a one-node config instead (a1 on ast1, a2 on
# ast2, no a3); up says so and test refuses to run.
#
# Environment: ARIAPP_ARI_PASSWORD (default the lab's, for both nodes);
# ARIAPP_CLUSTER_NET_ARI and ARIAPP_CLUSTER_NET_NATS, the first three
# octets of the two /24 networks (they must not overlap another network of
# the machine); ARIAPP_CLUSTER_TAG, the tag of the ariapp image built and
# run (default local: the compose lab's ariapp:local). Needs root and a Docker engine; installs debootstrap and
# curl when missing. One cluster per machine (fixed names and addresses).
set -euo pipefail
export LC_ALL=C

prog=cluster.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=lab/lib.sh
. "$here/lib.sh"

name=ariapp-cluster
label=org.ariapp.cluster
net_ari=${ARIAPP_CLUSTER_NET_ARI:-10.214.14}
net_nats=${ARIAPP_CLUSTER_NET_NATS:-10.214.15}
ari_password=${ARIAPP_ARI_PASSWORD:-ariapp-lab-secret}
state=/var/tmp/$name
lock=/tmp/$name.lock
image_ariapp=ariapp:${ARIAPP_CLUSTER_TAG:-local}
image_asterisk=ariapp-asterisk:local
image_nats=ariapp-nats:local
# The nats-server release built when go.mod does not name one.
nats_default=v2.15.2

# Nodes: name, last octet, first phone port, entity id.
nodes=("ast1 11 5071 02:00:0a:d6:0e:0b" "ast2 12 5081 02:00:0a:d6:0e:0c")
instances=(a1 a2 a3)
# An instance's last octet on both networks.
inst_octet() { echo $((20 + ${1#a})); }

# --- images ---------------------------------------------------------------

# nats_version: the nats-server module version go.mod requires, if any (a
# test that embeds the server then runs the same one), else nats_default.
nats_version() {
	local v
	v=$(cd "$repo" && go list -m -f '{{.Version}}' github.com/nats-io/nats-server/v2 2>/dev/null) || v=
	echo "${v:-$nats_default}"
}

# build_nats: nats-server, built by this machine's Go from the module proxy,
# on the debian:trixie-slim stand-in. Rebuilt when the version changes.
build_nats() {
	local v have dir ctr t0=$SECONDS
	v=$(nats_version)
	have=$(docker image inspect -f "{{index .Config.Labels \"$label.nats\"}}" "$image_nats" 2>/dev/null) || have=
	[ "$have" = "$v" ] && return 0
	log "building nats-server $v with $(go env GOVERSION) into $image_nats"
	dir=$(mktemp -d /var/tmp/$name-nats.XXXXXX)
	if ! (cd "$dir" && CGO_ENABLED=0 GOBIN=$dir GOFLAGS='' go install -trimpath -ldflags='-s -w' \
		"github.com/nats-io/nats-server/v2@$v") >"$dir/log" 2>&1; then
		tail -n 30 "$dir/log" >&2
		rm -rf "$dir"
		die "go install nats-server $v failed"
	fi
	ctr=$(docker create debian:trixie-slim)
	if ! { docker cp "$dir/nats-server" "$ctr:/usr/local/bin/nats-server" &&
		docker commit \
			--change 'ENTRYPOINT ["/usr/local/bin/nats-server"]' \
			--change 'CMD ["-js", "-sd", "/data", "-m", "8222"]' \
			--change 'EXPOSE 4222 8222' \
			--change "LABEL $label.nats=$v" \
			"$ctr" "$image_nats" >/dev/null; }; then
		docker rm -f "$ctr" >/dev/null 2>&1 || true
		rm -rf "$dir"
		die "building $image_nats failed"
	fi
	docker rm -f "$ctr" >/dev/null
	rm -rf "$dir"
	log "$image_nats (nats-server $v) built in $((SECONDS - t0)) s"
}

# build_images: the stand-ins, the two images docker-compose.yml builds
# (same Dockerfiles and contexts; the layer cache makes a rebuild of an
# unchanged tree quick) and the NATS image.
build_images() {
	local t0=$SECONDS logf
	seed_images
	logf=$(mktemp)
	log "building $image_asterisk and $image_ariapp"
	# No build arguments: what docker compose builds, so each reuses the
	# other's layers.
	if ! { docker build --force-rm -t "$image_asterisk" "$repo/asterisk" &&
		docker build --force-rm -t "$image_ariapp" "$repo"; } >"$logf" 2>&1; then
		tail -n 60 "$logf" >&2
		rm -f "$logf"
		die "docker build failed"
	fi
	rm -f "$logf"
	build_nats
	log "images ready in $((SECONDS - t0)) s"
}

# --- the cluster ------------------------------------------------------------

# clustered: does this ariapp know the cluster keys?
clustered() { grep -rqs 'nats_url' "$repo"/cmd/ariapp/*.go; }

# instance_config INSTANCE: the config file of one instance.
instance_config() {
	local inst=$1 n ip node oct port eid
	echo "# lab/cluster.sh: ariapp instance $inst"
	if clustered; then
		echo "nodes:"
		for n in "${nodes[@]}"; do
			read -r node oct port eid <<<"$n"
			echo "  - {name: $node, url: http://$net_ari.$oct:8088/ari, username: ariapp}"
		done
		echo "cluster: {nats_url: nats://$net_nats.10:4222, instance: $inst, bucket: ariapp-leases, lease_ttl: 6s, renew_every: 2s}"
	else
		case $inst in a1) ip=$net_ari.11 ;; *) ip=$net_ari.12 ;; esac
		echo "ari: {url: http://$ip:8088/ari, username: ariapp}"
	fi
	cat <<-EOF
	api: {listen: "0.0.0.0:8090"}
	log: {level: info, format: json, ari_requests: info}
	hold: {media: "tone:440/300|0/200"}
	EOF
}

# run_instances: the instances this ariapp can run.
run_instances() {
	if clustered; then echo "${instances[@]}"; else echo a1 a2; fi
}

# topology: what the test needs to know, as JSON.
topology() {
	local n i first=1 node oct port eid
	printf '{\n  "clustered": %s,\n  "ari_password": "%s",\n  "phone_host": "%s.1",\n' \
		"$(clustered && echo true || echo false)" "$ari_password" "$net_ari"
	printf '  "nats": {"container": "%s-nats", "network": "%s-nats", "url": "nats://%s.10:4222", "monitor": "http://%s.10:8222"},\n' \
		"$name" "$name" "$net_nats" "$net_nats"
	printf '  "ari_network": "%s-ari",\n  "lease_ttl": "6s",\n  "nodes": [' "$name"
	for n in "${nodes[@]}"; do
		read -r node oct port eid <<<"$n"
		[ $first = 1 ] || printf ','
		first=0
		printf '\n    {"name": "%s", "container": "%s-%s", "ip": "%s.%s", "ari": "http://%s.%s:8088/ari", "sip": "%s.%s:5060", "phone_port": %s}' \
			"$node" "$name" "$node" "$net_ari" "$oct" "$net_ari" "$oct" "$net_ari" "$oct" "$port"
	done
	printf '\n  ],\n  "instances": ['
	first=1
	for i in $(run_instances); do
		[ $first = 1 ] || printf ','
		first=0
		printf '\n    {"name": "%s", "container": "%s-%s", "api": "http://%s.%s:8090", "ari_ip": "%s.%s", "nats_ip": "%s.%s"}' \
			"$i" "$name" "$i" "$net_ari" "$(inst_octet "$i")" "$net_ari" "$(inst_octet "$i")" "$net_nats" "$(inst_octet "$i")"
	done
	printf '\n  ]\n}\n'
}

net_create() {
	local net=$1 prefix=$2
	docker network create --driver bridge --subnet "$prefix.0/24" --gateway "$prefix.1" \
		--label "$label=1" "$net" >/dev/null ||
		die "docker network create $net ($prefix.0/24) failed: does another network use that range? (ARIAPP_CLUSTER_NET_ARI / _NATS choose others)"
}

wait_healthy() {
	local ctr=$1 st i
	for i in $(seq 1 120); do
		st=$(docker inspect -f '{{.State.Health.Status}}' "$ctr" 2>/dev/null) || st=gone
		[ "$st" = healthy ] && return 0
		[ "$st" = gone ] && die "container $ctr is gone"
		sleep 0.5
	done
	docker logs --tail 30 "$ctr" >&2 || true
	die "$ctr not healthy after 60 s (state $st)"
}

wait_url() {
	local what=$1 url=$2 ctr=$3 i
	for i in $(seq 1 120); do
		curl -fsS -m 2 -o /dev/null "$url" 2>/dev/null && return 0
		[ "$(docker inspect -f '{{.State.Running}}' "$ctr" 2>/dev/null)" = true ] || {
			docker logs --tail 30 "$ctr" >&2 || true
			die "$what ($ctr) is not running"
		}
		sleep 0.5
	done
	docker logs --tail 30 "$ctr" >&2 || true
	die "$what at $url not ready after 60 s"
}

cluster_up() {
	local t0=$SECONDS n i o ctr node oct port eid
	rm -rf "$state"
	mkdir -p "$state"
	net_create "$name-ari" "$net_ari"
	net_create "$name-nats" "$net_nats"
	docker run -d --name "$name-nats" --hostname nats --label "$label=1" \
		--network "$name-nats" --ip "$net_nats.10" "$image_nats" >/dev/null
	for n in "${nodes[@]}"; do
		read -r node oct port eid <<<"$n"
		docker run -d --name "$name-$node" --hostname "$node" --label "$label=1" \
			--network "$name-ari" --ip "$net_ari.$oct" \
			-e ARIAPP_ARI_PASSWORD="$ari_password" -e ARIAPP_LAB_SYSTEMNAME="$node" \
			-e ARIAPP_LAB_ENTITYID="$eid" -e ARIAPP_LAB_PHONE_PORT="$port" \
			"$image_asterisk" >/dev/null
	done
	wait_url "NATS" "http://$net_nats.10:8222/healthz" "$name-nats"
	for n in "${nodes[@]}"; do
		read -r node oct port eid <<<"$n"
		wait_healthy "$name-$node"
	done
	clustered || log "this ariapp has no cluster support (no cluster.nats_url): a1 runs on ast1 alone, a2 on ast2 alone, no a3"
	for i in $(run_instances); do
		o=$(inst_octet "$i")
		ctr=$name-$i
		instance_config "$i" >"$state/$i.yaml"
		docker create --name "$ctr" --hostname "$i" --label "$label=1" \
			--network "$name-ari" --ip "$net_ari.$o" \
			-e ARIAPP_ARI_PASSWORD="$ari_password" \
			-e ARIAPP_NODES_AST1_PASSWORD="$ari_password" -e ARIAPP_NODES_AST2_PASSWORD="$ari_password" \
			"$image_ariapp" --config /etc/ariapp/cluster.yaml >/dev/null
		docker network connect --ip "$net_nats.$o" "$name-nats" "$ctr"
		chmod 0644 "$state/$i.yaml"
		docker cp "$state/$i.yaml" "$ctr:/etc/ariapp/cluster.yaml"
		docker start "$ctr" >/dev/null
	done
	for i in $(run_instances); do
		wait_url "ariapp $i" "http://$net_ari.$(inst_octet "$i"):8090/readyz" "$name-$i"
	done
	topology >"$state/topology.json"
	log "cluster up in $((SECONDS - t0)) s: nodes ast1 $net_ari.11, ast2 $net_ari.12; instances $(for i in $(run_instances); do printf '%s http://%s.%s:8090 ' "$i" "$net_ari" "$(inst_octet "$i")"; done); NATS $net_nats.10:4222"
}

# leftovers prints what of the cluster is still there.
leftovers() {
	docker ps -aq --filter "label=$label" | sed 's/^/container /'
	docker network ls -q --filter "label=$label" | sed 's/^/network /'
	docker volume ls -q --filter "label=$label" | sed 's/^/volume /'
}

cluster_down() {
	local ids left
	mapfile -t ids < <(docker ps -aq --filter "label=$label")
	# -v: with their anonymous volumes.
	[ ${#ids[@]} = 0 ] || docker rm -f -v "${ids[@]}" >/dev/null 2>&1 || true
	mapfile -t ids < <(docker network ls -q --filter "label=$label")
	[ ${#ids[@]} = 0 ] || docker network rm "${ids[@]}" >/dev/null 2>&1 || true
	mapfile -t ids < <(docker volume ls -q --filter "label=$label")
	[ ${#ids[@]} = 0 ] || docker volume rm "${ids[@]}" >/dev/null 2>&1 || true
	rm -rf "$state"
	left=$(leftovers)
	if [ -n "$left" ]; then
		log "left behind: $(echo "$left" | tr '\n' ' ')"
		return 1
	fi
}

# --- commands ---------------------------------------------------------------

ensure_tools() {
	need_root
	need_docker
	check_go
}

cmd_up() {
	ensure_tools
	exec 9>"$lock"
	flock -n 9 || die "another lab/cluster.sh holds $lock"
	[ -z "$(leftovers)" ] || die "a cluster is already there (lab/cluster.sh down removes it)"
	build_images
	cluster_up
}

cmd_down() {
	need_root
	cluster_down
	log "cluster down: nothing of it left"
}

cmd_status() {
	local c ip st n pid node oct port eid
	if [ -z "$(docker ps -aq --filter "label=$label")" ]; then
		echo "no cluster (lab/cluster.sh up starts one)"
		return 3
	fi
	for c in $(docker ps -a --filter "label=$label" --format '{{.Names}}' | sort); do
		st=$(docker inspect -f '{{.State.Status}}{{if .State.Health}} ({{.State.Health.Status}}){{end}}' "$c")
		ip=$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}' "$c")
		printf '%-22s %-20s %s\n' "$c" "$st" "$ip"
	done
	for n in "${nodes[@]}"; do
		read -r node oct port eid <<<"$n"
		pid=$(docker inspect -f '{{.State.Pid}}' "$name-$node" 2>/dev/null) || pid=0
		[ "$pid" != 0 ] || { echo "$node: not running"; continue; }
		printf '%s: TCP connections to ARI (:8088) from: %s\n' "$node" \
			"$(ari_peers "$pid" | tr '\n' ' ')"
		docker exec "$name-$node" asterisk -rx 'ari show websocket sessions' 2>/dev/null | sed "s/^/$node: /" || true
		printf '%s: channels: %s\n' "$node" "$(docker exec "$name-$node" asterisk -rx 'core show channels count' 2>/dev/null | head -n 1)"
	done
	curl -fsS -m 2 "http://$net_nats.10:8222/healthz" 2>/dev/null | sed 's/^/nats: /' || echo "nats: no answer"
	echo
}

# ari_peers PID: the remote addresses of the established TCP connections
# to port 8088 in the network namespace of process PID (Asterisk's view of
# who is connected to its ARI).
ari_peers() {
	local local_ rem st h
	while read -r _ local_ rem st _; do
		if [ "$st" != 01 ] || [ "${local_#*:}" != 1F98 ]; then continue; fi
		h=${rem%%:*}
		echo "$((16#${h:6:2})).$((16#${h:4:2})).$((16#${h:2:2})).$((16#${h:0:2}))"
	done < <(tail -n +2 "/proc/$1/net/tcp" 2>/dev/null) | sort | uniq -c | awk '{ print $2 "(" $1 ")" }'
}

failure_logs() {
	local c
	log "the containers' last log lines:"
	for c in $(docker ps -a --filter "label=$label" --format '{{.Names}}' | sort); do
		echo "--- $c ($(docker inspect -f '{{.State.Status}}' "$c"))" >&2
		# Without the API's access log (the test's own polling).
		docker logs --tail 200 "$c" 2>&1 | grep -v '"msg":"api request"' | tail -n 25 | cut -c 1-400 >&2 || true
	done
}

test_cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ "$rc" != 0 ]; then
		log "failed (exit $rc)"
		failure_logs
	fi
	cluster_down || rc=1
	exit "$rc"
}

# run_scenarios PATTERN SKIP TIMEOUT [ENV...]: the cluster, the Go test
# (-run PATTERN -skip SKIP), the cluster gone again.
run_scenarios() {
	local pattern=$1 skip=$2 timeout=$3 t0=$SECONDS out rc
	shift 3
	ensure_tools
	exec 9>"$lock"
	flock 9
	trap test_cleanup EXIT
	trap 'exit 130' INT TERM
	cluster_down >/dev/null 2>&1 || true # a previous run's, if killed
	build_images
	cluster_up
	clustered || die "this ariapp has no cluster support (no cluster.nats_url key): the scenarios cannot run"
	out=$state/go-test.log
	log "running e2e $pattern"
	set +e
	(cd "$repo" && env ARIAPP_CLUSTER=1 ARIAPP_CLUSTER_TOPOLOGY="$state/topology.json" "$@" \
		go test -race -count=1 -timeout "$timeout" -run "$pattern" -skip "$skip" -v ./e2e/) 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	set -e
	[ "$rc" = 0 ] || die "go test failed (exit $rc)"
	if grep -Eq -- '^\s*--- SKIP|no tests to run|^ok .*\[no tests to run\]' "$out"; then
		die "a scenario was skipped or none ran: that is a failure here"
	fi
	grep -q -- '^--- PASS' "$out" || die "no scenario passed"
	trap - EXIT INT TERM
	cluster_down || die "the cluster left something behind"
	log "passed in $((SECONDS - t0)) s; nothing of the cluster left"
}

cmd_clean() {
	need_root
	cluster_down || true
	docker image rm "$image_nats" >/dev/null 2>&1 || true
	[ "$image_ariapp" = ariapp:local ] || docker image rm "$image_ariapp" >/dev/null 2>&1 || true
	log "cluster removed, and $image_nats (lab/compose.sh clean removes the stand-ins and lab images)"
}

case "${1:-}" in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
test) run_scenarios '^TestCluster' '^$' 9m ARIAPP_CLUSTER_BENCH=10 ;;
bench) run_scenarios '^TestClusterBench$' '^$' 20m ARIAPP_CLUSTER_BENCH="${2:-12}" ;;
clean) cmd_clean ;;
*) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
