#!/usr/bin/env bash
# walkthrough.sh — the lab walk-through, unattended: a call between two lab
# phones (sipp), held and resumed from the control API and from the phone,
# then the events and log lines it produced (README "Walk-through").
#
#   sudo lab/walkthrough.sh
#
# 1. takes the lab phones lock (/tmp/ariapp-lab-phones.lock: the phones'
#    SIP ports and the Stasis application "ariapp" are shared with the
#    end-to-end tests; it waits while they run; do not wrap this script in
#    flock on that file, it would wait for itself), starts the lab if it is
#    not up (lab/lab.sh up), checks that no other ariapp is connected;
# 2. builds ariapp and starts it with config.yaml (application "ariapp",
#    API on 127.0.0.1:8090, *7/*8 on, JSON log into a file), hanging its
#    calls up when stopped; streams GET /v1/events into a file;
# 3. (a) a call placed from the API: sipp phones alice (5071) and bob (5072)
#    answer (lab/sipp/uas.xml); POST /v1/calls, GET /v1/calls, hold the
#    caller, GET, resume, DELETE;
#    (b) a call placed from a phone: alice (sipp, lab/sipp/alice-holds.xml)
#    dials bob, holds with a re-INVITE (a=sendonly), resumes with one
#    (a=sendrecv) and hangs up; meanwhile the API shows the hold, Asterisk's
#    CLI the RTP counters, and a resume by the party that does not hold is
#    refused;
# 4. stops ariapp with SIGTERM (it must exit 0) and the phones, then prints
#    the phones' SIP messages, the events captured and ariapp's log lines
#    that explain them.
#
# Exit status 0 when every step gave what it should (HTTP statuses, the
# events with the right party, source and end cause, every sipp phone's
# exit status 0, ariapp's clean exit), 1 otherwise. Everything it wrote
# stays in the directory it prints at the end (ariapp.log, events.sse, the
# phones' SIP traces NAME.sip.log).
#
# Environment: ARIAPP_ARI_PASSWORD (default: the lab's), TALK_MS and HOLD_MS
# (alice's phases in part b, default 4000 and 6000). Needs root, Go, sipp
# (package sip-tester) and curl; jq makes the output shorter.
set -euo pipefail
export LC_ALL=C

prog=walkthrough.sh
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=lab/lib.sh
. "$here/lib.sh"

need_root
check_go
command -v sipp >/dev/null || die "sipp is not installed: apt-get install sip-tester"
command -v curl >/dev/null || die "curl is not installed: apt-get install curl"
have_jq=0
command -v jq >/dev/null && have_jq=1

api=http://127.0.0.1:8090
ari=http://127.0.0.1:8088/ari
export ARIAPP_ARI_PASSWORD=${ARIAPP_ARI_PASSWORD:-ariapp-lab-secret}
talk_ms=${TALK_MS:-4000}
hold_ms=${HOLD_MS:-6000}
lock=/tmp/ariapp-lab-phones.lock

# The phones lock, for the whole run. Children get no copy of it (spawn
# closes fd 9), so a leftover child cannot keep it.
exec 9>"$lock"
if ! flock -n 9; then
	log "waiting for the lab phones lock ($lock): tests or another walk-through use the phones"
	flock 9
fi

"$here/lab.sh" up

work=$(mktemp -d "${TMPDIR:-/tmp}/ariapp-walkthrough.XXXXXX")
chmod 755 "$work"
alog=$work/ariapp.log
sse=$work/events.sse
pids=()
failures=()
apid=

fail() {
	failures+=("$*")
	printf '   FAILED: %s\n' "$*"
}

# spawn LOG CMD...: run CMD in the background with stdout and stderr into
# LOG and no file descriptor beyond 0-2; its pid goes into $spawned.
spawn() {
	local out=$1
	shift
	(
		for fd in /proc/self/fd/*; do
			fd=${fd##*/}
			case $fd in 0 | 1 | 2) ;; *) eval "exec $fd>&-" 2>/dev/null || true ;; esac
		done
		exec "$@" </dev/null >"$out" 2>&1
	) &
	spawned=$!
}

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
	local p
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	if [ -n "$apid" ] && kill -0 "$apid" 2>/dev/null; then
		kill -TERM "$apid" 2>/dev/null || true
		for _ in $(seq 1 100); do
			kill -0 "$apid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$apid" 2>/dev/null || true
	fi
	wait 2>/dev/null || true
	rm -f "$work/ariapp" "$work/body" # the binary is rebuilt every run
	log "files of this run: $work"
}
trap cleanup EXIT

say() { printf '\n== %s\n' "$*"; }
note() { printf '   %s\n' "$*"; }

# ladder NAME FILE: a phone's SIP messages from sipp's -trace_msg file, one
# line each: time, direction, request or status, CSeq, SDP version and
# direction.
ladder() {
	awk -v who="$1" '
	function flush() {
		if (first != "") printf "   %s  %s %-38s %-12s %s\n", ts, dir, first, cseq, sdp
		first = ""; cseq = ""; sdp = ""
	}
	{ sub(/\r$/, "") }
	/^-----------------------------------------------/ { flush(); ts = substr($3, 1, 12); next }
	/ message sent / { dir = who " ->"; want = 1; next }
	/ message received / { dir = who " <-"; want = 1; next }
	want && /^(SIP\/2\.0 |[A-Z]+ sip:)/ {
		first = $0; sub(/ SIP\/2\.0$/, "", first); sub(/^SIP\/2\.0 /, "", first); want = 0; next
	}
	/^CSeq:/ { cseq = $2 " " $3 }
	/^o=/ { sdp = sdp "SDP v" $3 " " }
	/^a=(sendrecv|sendonly|recvonly|inactive)/ { sdp = sdp $0 }
	END { flush() }' "$2" 2>/dev/null || true
}

# call METHOD PATH [JSON]: show the curl command, run it; the body goes to
# $body (and is printed, through jq if present), the status to $code.
call() {
	local method=$1 path=$2 data=${3:-} args=(-sS -X "$1" -o "$work/body" -w '%{http_code}')
	if [ -n "$data" ]; then
		printf "\n$ curl -s -X%s -H 'Content-Type: application/json' -d '%s' localhost:8090%s\n" "$method" "$data" "$path"
		args+=(-H 'Content-Type: application/json' -d "$data")
	else
		printf '\n$ curl -s -X%s localhost:8090%s\n' "$method" "$path"
	fi
	code=$(curl "${args[@]}" "$api$path") || code=000
	body=$(cat "$work/body" 2>/dev/null || true)
	printf '%s\n' "HTTP $code"
	if [ "$have_jq" = 1 ] && [ -n "$body" ] && jq -e . >/dev/null 2>&1 <<<"$body"; then
		jq "${jqshow[@]}" <<<"$body"
	else
		printf '%s\n' "$body"
	fi
}
jqshow=(.)

# brief: a CALL, in one line per party (for later requests).
brief_jq='if .error then . else
  if .calls then .calls[] else . end | {call_id, state, holders,
  caller: (.caller | {endpoint, state, on_hold_music, hangup_allowed}),
  callee: (.callee | {endpoint, state, on_hold_music, hangup_allowed})}
  + (if .end_cause then {end_cause} else {} end) end'

expect() { # expect CODE WHAT: the last call's status
	[ "$code" = "$1" ] || fail "$2: HTTP $code, expected $1"
}

field() { # field NAME: a top-level string of $body
	if [ "$have_jq" = 1 ]; then
		jq -r ".$1 // empty" <<<"$body" 2>/dev/null || true
	else
		sed -n "s/^{\"$1\":\"\([^\"]*\)\".*/\1/p" <<<"$body"
	fi
}

# events NAME CALL_ID: the data lines of the stream for that event and call.
events() {
	grep '^data: {' "$sse" 2>/dev/null | grep "\"event\":\"$1\"" | grep "\"call_id\":\"$2\"" || true
}

# wait_event NAME CALL_ID SECONDS: wait until the stream has that event.
wait_event() {
	for _ in $(seq 1 $(($3 * 10))); do
		[ -n "$(events "$1" "$2")" ] && return 0
		sleep 0.1
	done
	return 1
}

# check_event NAME CALL_ID 'FIELD:VALUE'...: the event is in the stream
# with those fields (party, source, end_cause...).
check_event() {
	local name=$1 id=$2 line kv
	shift 2
	line=$(events "$name" "$id" | head -n 1)
	if [ -z "$line" ]; then
		fail "no $name for call $id in the event stream"
		return
	fi
	for kv in "$@"; do
		grep -q "\"${kv%%:*}\":\"${kv#*:}\"" <<<"$line" ||
			fail "$name of call $id: ${kv%%:*} is not ${kv#*:}"
	done
}

# wait_exit PID SECONDS WHAT [finish]: wait for a sipp phone to finish (with
# "finish": tell it to, SIGUSR1: sipp takes no new call and exits when its
# calls are over); it must exit 0, i.e. all its calls went as its scenario
# says.
wait_exit() {
	local pid=$1 what=$3 rc
	[ "${4:-}" != finish ] || kill -USR1 "$pid" 2>/dev/null || true
	for _ in $(seq 1 $(($2 * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		fail "$what still running after $2 s"
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		return
	fi
	rc=0
	wait "$pid" || rc=$?
	if [ "$rc" = 0 ]; then
		note "$what: exit status 0 (its calls ended as the scenario expects)"
	else
		fail "$what: sipp exit status $rc (see $work/${what%% *}*)"
	fi
}

# phone NAME PORT MEDIA_PORT HZ SCENARIO [sipp args...]: start a sipp phone.
phone() {
	local name=$1 port=$2 mport=$3 hz=$4 sf=$5
	shift 5
	"$here/sipp/mktone.sh" "$hz" "$work/$name.ulaw"
	# -key before -sf and -set after it: sipp's order.
	spawn "$work/$name.out" sipp -key rtp_stream "$work/$name.ulaw,-1,0" -sf "$sf" \
		-i 127.0.0.1 -p "$port" -mp "$mport" -nostdin -aa \
		-trace_msg -message_file "$work/$name.sip.log" -trace_err -error_file "$work/$name.errors.log" "$@"
	pids+=("$spawned")
	sleep 0.5
	kill -0 "$spawned" 2>/dev/null || {
		tail -n 5 "$work/$name.out" "$work/$name.errors.log" >&2 2>/dev/null
		die "sipp phone $name exited at once (port $port taken? see $work/$name.out)"
	}
}

cd "$repo"

say "0. ariapp: build, start, stream the events"
curl -fsS -o /dev/null -m 2 -u "ariapp:$ARIAPP_ARI_PASSWORD" "$ari/applications/ariapp" 2>/dev/null &&
	die "Stasis application \"ariapp\" is already connected to Asterisk: stop the other ariapp (lab/run.sh?) first"
curl -fsS -o /dev/null -m 2 "$api/healthz" 2>/dev/null &&
	die "something already answers on $api: stop the other ariapp first"
note "go build -o $work/ariapp ./cmd/ariapp"
go build -buildvcs=false -o "$work/ariapp" ./cmd/ariapp
note "ARIAPP_ARI_PASSWORD=... $work/ariapp --config config.yaml 2>$alog"
note "(with ARIAPP_SHUTDOWN_HANGUP_CALLS=true: an interrupted walk-through leaves no call behind)"
# What this script relies on wins over the environment: the API address
# without a token, the application the dialplan names, the JSON log.
spawn "$alog" env -u ARIAPP_API_TOKEN ARIAPP_API_LISTEN=127.0.0.1:8090 ARIAPP_ARI_APPLICATION=ariapp \
	ARIAPP_LOG_FORMAT=json ARIAPP_LOG_LEVEL=info ARIAPP_SHUTDOWN_HANGUP_CALLS=true \
	"$work/ariapp" --config "$repo/config.yaml"
apid=$spawned
ready=0
for _ in $(seq 1 150); do
	kill -0 "$apid" 2>/dev/null || break
	if curl -fsS -o /dev/null "$api/readyz" 2>/dev/null; then
		ready=1
		break
	fi
	sleep 0.1
done
if [ "$ready" != 1 ]; then
	tail -n 20 "$alog" >&2
	die "ariapp did not become ready within 15 s"
fi
note "ready: GET /readyz answers 200"
note "$ curl -sN localhost:8090/v1/events > $sse &"
spawn "$sse" curl -sN "$api/v1/events"
pids+=("$spawned")
sleep 0.3

say "1. a call placed from the API"
note "sipp phones answer: alice on 127.0.0.1:5071 (RTP 6071, 700 Hz), bob on 127.0.0.1:5072 (RTP 6072, 1300 Hz)"
phone alice 5071 6071 700 "$here/sipp/uas.xml" -timeout 120
alice_uas=$spawned
phone bob 5072 6072 1300 "$here/sipp/uas.xml" -timeout 180
bob_uas=$spawned

call POST /v1/calls '{"from":"PJSIP/alice","to":"PJSIP/bob"}'
expect 201 "POST /v1/calls"
id1=$(field call_id)
jqshow=("$brief_jq")
if [ -z "$id1" ]; then
	fail "POST /v1/calls gave no call_id"
else
	note "ariapp rings alice; when she answers it dials bob; bob answers after 1 s"
	if wait_event call_answered "$id1" 15; then
		jqshow=(.)
		call GET /v1/calls
		expect 200 "GET /v1/calls"
		jqshow=("$brief_jq")
		sleep 2

		note "hold by the caller (alice): bob leaves the bridge and hears the hold tone"
		call POST "/v1/calls/$id1/hold" '{"party":"caller"}'
		expect 200 "hold from the API"
		call GET "/v1/calls/$id1"
		sleep 3

		note "resume by the caller: the tone stops, bob goes back into the bridge"
		call POST "/v1/calls/$id1/unhold" '{"party":"caller"}'
		expect 200 "resume from the API"
		sleep 2

		call DELETE "/v1/calls/$id1"
		expect 200 "DELETE /v1/calls/$id1"
	else
		fail "call $id1 not answered within 15 s"
		call DELETE "/v1/calls/$id1"
	fi
	wait_event call_ended "$id1" 10 || true
	check_event call_started "$id1"
	check_event call_answered "$id1"
	check_event hold_success "$id1" party:caller source:api
	check_event unhold_success "$id1" party:caller source:api
	check_event call_ended "$id1" end_cause:hangup_requested
fi
wait_exit "$alice_uas" 15 "alice (sipp answering)" finish

say "2. a call placed from a phone, held and resumed with the phone's re-INVITEs"
note "alice (sipp lab/sipp/alice-holds.xml from 127.0.0.1:5071) dials bob: talk $((talk_ms / 1000)) s,"
note "hold (re-INVITE a=sendonly) $((hold_ms / 1000)) s, resume (re-INVITE a=sendrecv), talk $((talk_ms / 1000)) s, BYE"
phone alice-caller 5071 6071 700 "$here/sipp/alice-holds.xml" \
	-set talk_ms "$talk_ms" -set hold_ms "$hold_ms" -s bob -m 1 -timeout 120 127.0.0.1:5060
alice_uac=$spawned
id2=
for _ in $(seq 1 100); do
	# the first call that did not come from the API
	id2=$(grep '^data: {' "$sse" | grep '"event":"call_started"' | grep -v '"source":"api"' | head -n 1 |
		sed 's/.*"call_id":"\([^"]*\)".*/\1/' || true)
	[ -n "$id2" ] && break
	sleep 0.1
done
if [ -z "$id2" ]; then
	fail "no call_started for alice's call within 10 s"
else
	note "call $id2 entered ariapp from the dialplan: Stasis(ariapp,dial,PJSIP/bob)"
	if wait_event hold_success "$id2" $((talk_ms / 1000 + 10)); then
		note "alice pressed hold (re-INVITE a=sendonly): what the API shows now"
		call GET "/v1/calls/$id2"
		note "Asterisk's view (read-only CLI), twice 2 s apart: RTP packets per channel; bob is"
		note "out of the bridge and still gets packets (the hold tone), alice (sendonly) gets none"
		for n in 1 2; do
			printf "\n$ lab/lab.sh cli 'pjsip show channelstats'\n"
			"$here/lab.sh" cli 'pjsip show channelstats' 2>&1 | grep -v '^ *$' || true
			[ "$n" = 2 ] || sleep 2
		done
		note "only the holder may resume: the callee (bob) cannot"
		call POST "/v1/calls/$id2/unhold" '{"party":"callee"}'
		expect 409 "resume by the party that does not hold"
	else
		fail "no hold_success for call $id2 (alice's re-INVITE a=sendonly)"
	fi
	if wait_event unhold_success "$id2" $((hold_ms / 1000 + 10)); then
		note "alice resumed (re-INVITE a=sendrecv)"
		call GET "/v1/calls/$id2"
	fi
	wait_event call_ended "$id2" $((talk_ms / 1000 + 10)) || true
	check_event call_started "$id2"
	check_event call_answered "$id2"
	check_event hold_success "$id2" party:caller source:phone
	check_event unhold_success "$id2" party:caller source:phone
	check_event call_ended "$id2" end_cause:caller_hangup party:caller
fi
wait_exit "$alice_uac" 20 "alice-caller (sipp calling)"
wait_exit "$bob_uas" 15 "bob (sipp answering)" finish

say "3. stop ariapp (SIGTERM) and the event stream"
kill -TERM "$apid"
arc=
for _ in $(seq 1 200); do
	if ! kill -0 "$apid" 2>/dev/null; then
		arc=0
		wait "$apid" || arc=$?
		break
	fi
	sleep 0.1
done
apid=
case $arc in
0) note "ariapp exited with status 0" ;;
"") fail "ariapp did not exit within 20 s of SIGTERM" ;;
*) fail "ariapp exited with status $arc after SIGTERM" ;;
esac
for p in "${pids[@]}"; do
	kill -TERM "$p" 2>/dev/null || true
done
wait 2>/dev/null || true
pids=()

say "4. SIP as the phones saw it (sipp -trace_msg): alice's call, with the hold and resume re-INVITEs"
ladder alice "$work/alice-caller.sip.log"
note ""
note "bob, both calls (ariapp holds him by moving his channel, so no re-INVITE reaches him):"
ladder "bob  " "$work/bob.sip.log"

say "5. the events (GET /v1/events, Server-Sent Events) — $sse"
if [ "$have_jq" = 1 ]; then
	grep '^data: {' "$sse" | sed 's/^data: //' | jq -r '
	  [(.time[11:23]), .call_id, (.seq|tostring), .event,
	   ("caller=" + .call.caller.state + " callee=" + .call.callee.state),
	   (if .party then "party=" + .party else empty end),
	   (if .source then "source=" + .source else empty end),
	   (if .call.end_cause then "end_cause=" + .call.end_cause else empty end),
	   (if .reason then "reason=\"" + .reason + "\"" else empty end)] | join("  ")' || true
else
	grep -E '^(event|id|data):' "$sse" || true
fi

say "6. ariapp's log, filtered: call events and the ari events of holds and resumes — $alog"
types='ChannelHold|ChannelUnhold|ChannelLeftBridge|ChannelEnteredBridge|PlaybackStarted|PlaybackFinished'
if [ "$have_jq" = 1 ]; then
	jq -rs --arg types "^($types)\$" '
	  # channel id -> "alice"/"bob", from the call events
	  (map(select(.msg == "call event") | {(.caller_channel_id): (.caller_endpoint|ltrimstr("PJSIP/")),
	       (.callee_channel_id): (.callee_endpoint|ltrimstr("PJSIP/"))}) | add // {}) as $who
	  | .[]
	  | select(.msg == "call event" or (.msg == "ari event" and ((.type // "") | test($types))))
	  | if .msg == "call event" then
	      [.ts[11:23], "call event", .event, "call=" + .call_id, "seq=" + (.seq|tostring),
	       "caller=" + .caller_state, "callee=" + .callee_state,
	       (if .party then "party=" + .party else empty end),
	       (if .source then "source=" + .source else empty end),
	       (if .end_cause then "end_cause=" + .end_cause else empty end)] | join("  ")
	    else
	      [.ts[11:23], "ari event ", .type,
	       "channel=" + .channel_id + (if $who[.channel_id] then "(" + $who[.channel_id] + ")" else "" end),
	       (if .bridge_id then "bridge=" + .bridge_id else empty end),
	       (if .playback_id then "playback=" + .playback_id else empty end),
	       (if .playback_state then "state=" + .playback_state else empty end)] | join("  ")
	    end' "$alog" || true
else
	grep -E "\"msg\":\"call event\"|\"type\":\"($types)\"" "$alog" |
		sed 's/"caller":"[^"]*",//; s/"logger":"[^"]*",//' || true
fi
warns=$(grep -cE '"level":"(warn|error|dpanic|panic|fatal)"' "$alog" || true)
if [ "$warns" != 0 ]; then
	say "ariapp logged $warns warning or error lines:"
	grep -E '"level":"(warn|error|dpanic|panic|fatal)"' "$alog" | cut -c1-400
fi

say "result"
if [ ${#failures[@]} -eq 0 ]; then
	note "walk-through OK: calls $id1 (API) and $id2 (phone) held and resumed as expected"
	exit 0
fi
note "walk-through FAILED (${#failures[@]}):"
for f in "${failures[@]}"; do
	note "- $f"
done
exit 1
