#!/bin/sh
# entrypoint.sh — the compose lab's Asterisk: writes the configs that depend
# on where the container runs, then runs Asterisk in the foreground.
#
# Environment (docker-compose.yml passes it through; all optional):
#   ARIAPP_ARI_PASSWORD       the ARI password of user ariapp (ari.conf);
#                             default the lab's
#   ARIAPP_LAB_PHONE_HOST     where the lab phones alice, bob and carol
#                             listen (SIP ports 5071-5073), an address or a
#                             name such as host.docker.internal; default the
#                             container's gateway, i.e. the Docker host
#   ARIAPP_LAB_EXTERNAL_ADDR  the address other machines reach the lab at
#                             (the Docker host's LAN address): Asterisk
#                             writes it into the SIP and SDP it sends to
#                             anything outside the container's own networks
#   ARIAPP_LAB_SIP_PORT       the host port SIP is published on (default
#                             15060), advertised with ARIAPP_LAB_EXTERNAL_ADDR
#   ARIAPP_LAB_RTP_START / ARIAPP_LAB_RTP_END
#                             RTP port range (default 30000-30099); the
#                             host must publish the same range
#   ARIAPP_LAB_SIP_PASSWORD   creates the registering softphones soft1 and
#                             soft2 with this password (unset: no softphones)
#   ARIAPP_LAB_PHONE_PORT     alice's SIP port on the phone host; bob and
#                             carol listen on the next two (default 5071)
#   ARIAPP_LAB_SYSTEMNAME     asterisk.conf's systemname: it prefixes every
#                             channel id, so ids differ between nodes of a
#                             cluster (unset: none, ids as in the lab)
#   ARIAPP_LAB_ENTITYID       asterisk.conf's entityid (a MAC-like
#                             00:11:22:33:44:55), unique per node (unset:
#                             Asterisk derives it from a network interface)
set -eu

conf=/etc/asterisk

# hexip: a little-endian hex IPv4 address of /proc/net/route as a.b.c.d.
hexip() {
	h=$1
	printf '%d.%d.%d.%d' "0x${h#??????}" "0x$(echo "$h" | cut -c5-6)" "0x$(echo "$h" | cut -c3-4)" "0x${h%??????}"
}

# masklen: the prefix length of a hex netmask.
masklen() {
	n=$(printf '%d' "0x$1") bits=0
	while [ "$n" -gt 0 ]; do
		bits=$((bits + (n & 1)))
		n=$((n >> 1))
	done
	echo "$bits"
}

gateway= nets=
while read -r _ dest gw _ _ _ _ mask _; do
	case $dest in Destination) continue ;; esac
	if [ "$dest" = 00000000 ]; then
		gateway=$(hexip "$gw")
	elif [ "$gw" = 00000000 ]; then
		nets="$nets $(hexip "$dest")/$(masklen "$mask")"
	fi
done </proc/net/route

phone_host=${ARIAPP_LAB_PHONE_HOST:-$gateway}
[ -n "$phone_host" ] || { echo "entrypoint: no default route and no ARIAPP_LAB_PHONE_HOST" >&2; exit 1; }
case $phone_host in
*[!0-9.]*)
	addr=$(getent ahostsv4 "$phone_host" | awk 'NR == 1 { print $1 }')
	[ -n "$addr" ] || { echo "entrypoint: cannot resolve ARIAPP_LAB_PHONE_HOST=$phone_host" >&2; exit 1; }
	phone_host=$addr
	;;
esac
rtp_start=${ARIAPP_LAB_RTP_START:-30000}
rtp_end=${ARIAPP_LAB_RTP_END:-30099}

{
	echo "; written by entrypoint.sh at $(date -u +%FT%TZ)"
	echo "[transport-udp]"
	echo "type = transport"
	echo "protocol = udp"
	echo "bind = 0.0.0.0:5060"
	for n in $nets; do echo "local_net = $n"; done
	if [ -n "${ARIAPP_LAB_EXTERNAL_ADDR:-}" ]; then
		echo "external_signaling_address = $ARIAPP_LAB_EXTERNAL_ADDR"
		echo "external_signaling_port = ${ARIAPP_LAB_SIP_PORT:-15060}"
		echo "external_media_address = $ARIAPP_LAB_EXTERNAL_ADDR"
	fi
	port=${ARIAPP_LAB_PHONE_PORT:-5071}
	for p in alice bob carol; do
		cat <<-EOF

		[$p](lab-phone)
		aors = $p
		callerid = "$p" <$p>

		[$p]
		type = aor
		contact = sip:$p@$phone_host:$port
		max_contacts = 1
		EOF
		port=$((port + 1))
	done
	if [ -n "${ARIAPP_LAB_SIP_PASSWORD:-}" ]; then
		for p in soft1 soft2; do
			cat <<-EOF

			[$p](lab-phone)
			aors = $p
			auth = $p
			callerid = "$p" <$p>
			rtp_symmetric = yes
			force_rport = yes
			rewrite_contact = yes

			[$p]
			type = aor
			max_contacts = 1
			remove_existing = yes
			qualify_frequency = 30

			[$p]
			type = auth
			auth_type = userpass
			username = $p
			password = $ARIAPP_LAB_SIP_PASSWORD
			EOF
		done
	fi
} >"$conf/pjsip-container.conf"

cat >"$conf/rtp.conf" <<EOF
; written by entrypoint.sh: the RTP range docker-compose.yml publishes
[general]
rtpstart = $rtp_start
rtpend = $rtp_end
EOF

if [ -n "${ARIAPP_ARI_PASSWORD:-}" ]; then
	awk '/^password[ \t]*=/ { print "password = " ENVIRON["ARIAPP_ARI_PASSWORD"]; next } { print }' \
		"$conf/ari.conf" >"$conf/ari.conf.new"
	mv "$conf/ari.conf.new" "$conf/ari.conf"
fi

# A node of a cluster: its own name (channel id prefix) and entity id, in
# asterisk.conf's [options]. Written at every start from the image's file,
# so a value removed from the environment is gone after a restart.
[ -f "$conf/asterisk.conf.image" ] || cp "$conf/asterisk.conf" "$conf/asterisk.conf.image"
node_opts=
if [ -n "${ARIAPP_LAB_SYSTEMNAME:-}" ]; then
	case $ARIAPP_LAB_SYSTEMNAME in
	*[!A-Za-z0-9_-]*) echo "entrypoint: ARIAPP_LAB_SYSTEMNAME=$ARIAPP_LAB_SYSTEMNAME: letters, digits, _ and - only" >&2; exit 1 ;;
	esac
	node_opts="systemname = $ARIAPP_LAB_SYSTEMNAME"
fi
if [ -n "${ARIAPP_LAB_ENTITYID:-}" ]; then
	echo "$ARIAPP_LAB_ENTITYID" | grep -Eq '^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$' ||
		{ echo "entrypoint: ARIAPP_LAB_ENTITYID=$ARIAPP_LAB_ENTITYID is not of the form 00:11:22:33:44:55" >&2; exit 1; }
	node_opts="$node_opts${node_opts:+
}entityid = $ARIAPP_LAB_ENTITYID"
fi
NODE_OPTS=$node_opts awk '{ print } /^\[options\]/ && ENVIRON["NODE_OPTS"] != "" { print ENVIRON["NODE_OPTS"] }' \
	"$conf/asterisk.conf.image" >"$conf/asterisk.conf"

echo "entrypoint: phones at $phone_host, local nets:$nets, external ${ARIAPP_LAB_EXTERNAL_ADDR:-(none)}, RTP $rtp_start-$rtp_end${ARIAPP_LAB_SYSTEMNAME:+, system $ARIAPP_LAB_SYSTEMNAME}${ARIAPP_LAB_ENTITYID:+, entity $ARIAPP_LAB_ENTITYID}" >&2
# The image's CMD: asterisk -f -n (foreground, no colour).
exec "$@"
