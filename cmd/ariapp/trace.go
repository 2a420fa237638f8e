package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// traceUsage is the trace subcommand's help.
const traceUsage = `usage: ariapp trace CALL_ID [LOGFILE]

Prints one call's story from ariapp's JSON log (LOGFILE, or standard input):
the ARI events Asterisk sent, the ARI requests ariapp made (log.ari_requests
at the log's level; level debug by default) and the call events, in time
order, relative to the call's first line. A request is followed by the
event that confirmed it. Restarts of ariapp, lost ARI connections and
dropped events within the call's time are marked: the log has gaps there.
`

// traceStdin is where the trace reads a log given no file.
var traceStdin io.Reader = os.Stdin

// runTrace is `ariapp trace`.
func runTrace(args []string, stdout, stderr io.Writer) int {
	if len(args) < 1 || len(args) > 2 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stderr, traceUsage)
		return exitConfig
	}
	in := traceStdin
	if len(args) == 2 {
		f, err := os.Open(args[1])
		if err != nil {
			fmt.Fprintf(stderr, "ariapp trace: %v\n", err)
			return exitConfig
		}
		defer f.Close()
		in = f
	}
	lines, err := readLogLines(in)
	if err != nil {
		fmt.Fprintf(stderr, "ariapp trace: reading the log: %v\n", err)
		return exitRuntime
	}
	t := newTrace(args[0], lines)
	if len(t.entries) == 0 {
		fmt.Fprintf(stderr, "ariapp trace: no line of call %s in the log\n", args[0])
		return exitRuntime
	}
	t.print(stdout)
	return exitOK
}

// logLine is one JSON line of ariapp's log.
type logLine struct {
	ts     time.Time
	logger string
	msg    string
	f      map[string]any
}

func (l *logLine) str(k string) string {
	switch v := l.f[k].(type) {
	case string:
		return v
	case float64:
		return fmt.Sprint(v)
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = fmt.Sprint(x)
		}
		return strings.Join(parts, ",")
	}
	return ""
}

// readLogLines decodes the JSON lines of r; other lines are skipped.
func readLogLines(r io.Reader) ([]*logLine, error) {
	var out []*logLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		b := sc.Bytes()
		if len(b) == 0 || b[0] != '{' {
			continue
		}
		var f map[string]any
		if json.Unmarshal(b, &f) != nil {
			continue
		}
		l := &logLine{f: f}
		l.logger, _ = f["logger"].(string)
		l.msg, _ = f["msg"].(string)
		if ts, ok := f["ts"].(string); ok {
			l.ts, _ = time.Parse(time.RFC3339Nano, ts)
		}
		if l.msg == "ari request" {
			// Logged when the reply came; placed where it was sent, so it
			// comes before the events it caused (Asterisk sends them
			// before its reply).
			if d, err := time.ParseDuration(l.str("took")); err == nil {
				l.ts = l.ts.Add(-d)
			}
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

// trace is one call's lines.
type trace struct {
	callID  string
	roles   map[string]string // channel id -> caller/callee
	entries []*logLine
}

// newTrace picks the call's lines: its call events and requests (they name
// the call), the ARI events of its channels, bridge and playbacks (ids that
// the call events and requests name, or that derive from the call id), and
// the process-wide lines that mean a gap in its story.
func newTrace(callID string, lines []*logLine) *trace {
	t := &trace{callID: callID, roles: map[string]string{}}
	ids := map[string]bool{}
	for _, l := range lines {
		if l.str("call_id") != callID {
			continue
		}
		for _, role := range []string{"caller", "callee"} {
			if id := l.str(role + "_channel_id"); id != "" {
				ids[id] = true
				t.roles[id] = role
			}
		}
		for _, k := range []string{"channel_id", "bridge_id", "playback_id"} {
			if id := l.str(k); id != "" {
				ids[id] = true
				if p := l.str("party"); k == "channel_id" && p != "" && l.msg == "ari request" {
					t.roles[id] = p
				}
			}
		}
	}
	ours := func(l *logLine) bool {
		for _, k := range []string{"channel_id", "bridge_id", "playback_id", "peer_channel_id"} {
			if id := l.str(k); id != "" && (ids[id] || strings.HasPrefix(id, callID+"-")) {
				return true
			}
		}
		return false
	}
	var first, last time.Time
	var mine []*logLine
	for _, l := range lines {
		if l.str("call_id") == callID || (l.msg == "ari event" && ours(l)) {
			mine = append(mine, l)
			if first.IsZero() || l.ts.Before(first) {
				first = l.ts
			}
			if l.ts.After(last) {
				last = l.ts
			}
		}
	}
	for _, l := range lines {
		if !l.ts.Before(first) && !l.ts.After(last) && gapOf(l) != "" {
			mine = append(mine, l)
		}
	}
	sort.SliceStable(mine, func(i, j int) bool { return mine[i].ts.Before(mine[j].ts) })
	t.entries = mine
	return t
}

// gapOf says what a process-wide line means for a call's story, or "".
func gapOf(l *logLine) string {
	switch {
	case l.msg == "ariapp starting":
		return "ariapp started (a restart: what happened while none ran is not in the log)"
	case l.msg == "ari connection" && l.str("state") != "connected":
		return "ARI connection " + l.str("state") + ": events may be missing until the resync"
	case l.msg == "ari connection":
		return "ARI connection up again; ariapp resyncs with Asterisk"
	case strings.Contains(l.msg, "event dropped"):
		return "an ARI event was dropped (ariapp too slow): the log has a gap"
	case l.msg == "event subscriber too slow, event dropped for it":
		return "" // a subscriber's loss, not the log's
	}
	return ""
}

// confirmedBy is the ARI event that confirms a request of a route.
var confirmedBy = map[string]string{
	"POST /bridges/{id}/removeChannel": "ChannelLeftBridge",
	"POST /bridges/{id}/addChannel":    "ChannelEnteredBridge",
	"POST /channels/{id}/play/{id}":    "PlaybackStarted",
	"DELETE /playbacks/{id}":           "PlaybackFinished",
	"DELETE /channels/{id}":            "ChannelDestroyed",
	"POST /channels":                   "StasisStart",
}

func (t *trace) party(l *logLine) string {
	if p := l.str("party"); p != "" && l.msg != "call event" {
		return p
	}
	if r := t.roles[l.str("channel_id")]; r != "" {
		return r
	}
	if pb := l.str("playback_id"); strings.HasPrefix(pb, t.callID+"-hold-") {
		return strings.SplitN(strings.TrimPrefix(pb, t.callID+"-hold-"), "-", 2)[0]
	}
	return ""
}

// print writes the story, one line per entry.
func (t *trace) print(w io.Writer) {
	t0 := t.entries[0].ts
	// Requests waiting for their confirming event, by event type and id.
	type pending struct {
		route string
		at    time.Time
	}
	waiting := map[string]pending{}
	key := func(typ, id string) string { return typ + " " + id }
	fmt.Fprintf(w, "call %s: %d lines from %s\n", t.callID, len(t.entries), t0.Format(logTimeLayout))
	for _, l := range t.entries {
		rel := fmt.Sprintf("%+8.3f", l.ts.Sub(t0).Seconds())
		switch {
		case l.msg == "ari event":
			typ := l.str("type")
			detail := t.eventDetail(typ, l)
			for _, id := range []string{l.str("channel_id"), l.str("playback_id")} {
				if p, ok := waiting[key(typ, id)]; ok && id != "" {
					detail += fmt.Sprintf("  (confirms %s, %.1f ms)", p.route, float64(l.ts.Sub(p.at).Microseconds())/1000)
					delete(waiting, key(typ, id))
					break
				}
			}
			fmt.Fprintf(w, "%s  %-22s %-7s %s\n", rel, typ, t.party(l), detail)
		case l.msg == "ari request":
			route := l.str("method") + " " + l.str("route")
			took, _ := l.f["took"].(string)
			if d, ok := l.f["took"].(float64); ok { // a numeric duration encoder
				took = fmt.Sprintf("%.1fms", d*1000)
			}
			line := fmt.Sprintf("%s  → %-38s %-7s %s  %s", rel, route, t.party(l), l.str("status"), took)
			if e := l.str("error"); e != "" {
				line += "  " + e
			}
			fmt.Fprintln(w, line)
			if typ, ok := confirmedBy[route]; ok && l.str("error") == "" {
				id := l.str("channel_id")
				if typ == "PlaybackStarted" || typ == "PlaybackFinished" {
					id = l.str("playback_id")
				}
				waiting[key(typ, id)] = pending{route: l.str("route"), at: l.ts}
			}
		case l.msg == "call event":
			fmt.Fprintf(w, "%s  %-22s %s\n", rel, l.str("event"), callEventDetail(l))
		case gapOf(l) != "":
			fmt.Fprintf(w, "%s  --- %s\n", rel, gapOf(l))
		case l.msg == "media":
			fmt.Fprintf(w, "%s  %-22s %-7s %s\n", rel, "media", l.str("party"), l.str("transition"))
		default:
			fmt.Fprintf(w, "%s  %-22s %s\n", rel, l.msg, l.str("party"))
		}
	}
}

func (t *trace) eventDetail(typ string, l *logLine) string {
	switch typ {
	case "StasisStart":
		return strings.TrimSpace(l.str("channel_name") + "  args " + l.str("args"))
	case "PlaybackStarted":
		return l.str("media_uri")
	case "PlaybackFinished":
		return l.str("media_uri") + " " + l.str("playback_state")
	case "ChannelDestroyed", "ChannelHangupRequest":
		return strings.TrimSpace("cause " + l.str("cause") + " " + l.str("cause_txt"))
	case "ChannelDtmfReceived":
		return "digit " + l.str("digit")
	case "Dial":
		return l.str("dialstatus")
	case "ChannelVarset":
		return l.str("variable") + "=" + l.str("value")
	case "ChannelStateChange":
		return l.str("channel_state")
	}
	return ""
}

func callEventDetail(l *logLine) string {
	var b strings.Builder
	if p := l.str("party"); p != "" {
		fmt.Fprintf(&b, "by %s", p)
		if s := l.str("source"); s != "" {
			fmt.Fprintf(&b, " (%s)", s)
		}
		b.WriteString("   ")
	}
	fmt.Fprintf(&b, "caller %s  callee %s", l.str("caller_state"), l.str("callee_state"))
	if c := l.str("end_cause"); c != "" {
		fmt.Fprintf(&b, "  cause %s", c)
	}
	if r := l.str("reason"); r != "" {
		fmt.Fprintf(&b, "  %q", r)
	}
	return b.String()
}
