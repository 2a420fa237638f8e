package ari

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Event is one message from the ARI event WebSocket, or a *ConnectionEvent
// the client itself inserts into the stream. Switch on the concrete type.
type Event interface {
	// GetType is the ARI event type, e.g. "StasisStart".
	GetType() string
	// Base is the part every ARI event shares, including the raw JSON.
	Base() *EventBase
}

// EventBase is what every ARI event carries. Raw is the message exactly as
// received, so nothing Asterisk sent is lost even for typed events.
type EventBase struct {
	Type        string          `json:"type"`
	Application string          `json:"application"`
	Timestamp   Time            `json:"timestamp"`
	AsteriskID  string          `json:"asterisk_id,omitempty"`
	Raw         json.RawMessage `json:"-"`
}

// GetType implements Event.
func (b *EventBase) GetType() string { return b.Type }

// Base implements Event.
func (b *EventBase) Base() *EventBase { return b }

// RawEvent is an event type this package does not decode. It is delivered
// like any other, never dropped; Raw holds the whole message.
type RawEvent struct {
	EventBase
}

// StasisStart: a channel entered the application. Args are the arguments of
// Stasis() in the dialplan, or appArgs of an originate.
type StasisStart struct {
	EventBase
	Args           []string `json:"args"`
	Channel        Channel  `json:"channel"`
	ReplaceChannel *Channel `json:"replace_channel,omitempty"`
}

// StasisEnd: a channel left the application (usually because it hung up).
type StasisEnd struct {
	EventBase
	Channel Channel `json:"channel"`
}

// ChannelCreated: a channel was created (seen for channels the app is
// subscribed to, e.g. ones it originated).
type ChannelCreated struct {
	EventBase
	Channel Channel `json:"channel"`
}

// ChannelStateChange: a channel's state changed (e.g. Ringing to Up).
type ChannelStateChange struct {
	EventBase
	Channel Channel `json:"channel"`
}

// ChannelDestroyed: a channel is gone; Cause is the Q.850 hangup cause.
type ChannelDestroyed struct {
	EventBase
	Cause    int     `json:"cause"`
	CauseTxt string  `json:"cause_txt"`
	Channel  Channel `json:"channel"`
}

// ChannelHangupRequest: a hangup was requested for a channel.
type ChannelHangupRequest struct {
	EventBase
	Cause   int     `json:"cause"`
	Soft    bool    `json:"soft"`
	Channel Channel `json:"channel"`
}

// ChannelHold: the channel's device put the call on hold (e.g. a SIP
// re-INVITE with a=sendonly).
type ChannelHold struct {
	EventBase
	Channel    Channel `json:"channel"`
	MusicClass string  `json:"musicclass,omitempty"`
}

// ChannelUnhold: the channel's device took the call off hold.
type ChannelUnhold struct {
	EventBase
	Channel Channel `json:"channel"`
}

// ChannelDtmfReceived: a DTMF digit ended on a channel.
type ChannelDtmfReceived struct {
	EventBase
	Digit      string  `json:"digit"`
	DurationMs int     `json:"duration_ms"`
	Channel    Channel `json:"channel"`
}

// ChannelEnteredBridge: a channel joined a bridge.
type ChannelEnteredBridge struct {
	EventBase
	Bridge  Bridge  `json:"bridge"`
	Channel Channel `json:"channel"`
}

// ChannelLeftBridge: a channel left a bridge.
type ChannelLeftBridge struct {
	EventBase
	Bridge  Bridge  `json:"bridge"`
	Channel Channel `json:"channel"`
}

// BridgeCreated: a bridge was created.
type BridgeCreated struct {
	EventBase
	Bridge Bridge `json:"bridge"`
}

// BridgeDestroyed: a bridge was destroyed.
type BridgeDestroyed struct {
	EventBase
	Bridge Bridge `json:"bridge"`
}

// PlaybackStarted: a playback began.
type PlaybackStarted struct {
	EventBase
	Playback Playback `json:"playback"`
}

// PlaybackContinuing: a playback moved to the next item of its media list.
type PlaybackContinuing struct {
	EventBase
	Playback Playback `json:"playback"`
}

// PlaybackFinished: a playback ended; Playback.State tells how (done,
// failed, cancelled).
type PlaybackFinished struct {
	EventBase
	Playback Playback `json:"playback"`
}

// ChannelVarset: a channel variable (or a global one, then Channel is nil)
// was set.
type ChannelVarset struct {
	EventBase
	Variable string   `json:"variable"`
	Value    string   `json:"value"`
	Channel  *Channel `json:"channel,omitempty"`
}

// Dial: progress of a dial (Caller may be nil when the app originated Peer).
type Dial struct {
	EventBase
	Caller     *Channel `json:"caller,omitempty"`
	Peer       Channel  `json:"peer"`
	Forward    string   `json:"forward,omitempty"`
	Forwarded  *Channel `json:"forwarded,omitempty"`
	Dialstring string   `json:"dialstring,omitempty"`
	Dialstatus string   `json:"dialstatus"` // "", RINGING, ANSWER, BUSY, NOANSWER, CONGESTION, CHANUNAVAIL, CANCEL, ...
}

// ApplicationReplaced: another WebSocket registered this application name.
// Terminal for this client.
type ApplicationReplaced struct {
	EventBase
}

// decoders maps ARI event types to a constructor of their typed struct.
var decoders = map[string]func() Event{
	"StasisStart":          func() Event { return new(StasisStart) },
	"StasisEnd":            func() Event { return new(StasisEnd) },
	"ChannelCreated":       func() Event { return new(ChannelCreated) },
	"ChannelStateChange":   func() Event { return new(ChannelStateChange) },
	"ChannelDestroyed":     func() Event { return new(ChannelDestroyed) },
	"ChannelHangupRequest": func() Event { return new(ChannelHangupRequest) },
	"ChannelHold":          func() Event { return new(ChannelHold) },
	"ChannelUnhold":        func() Event { return new(ChannelUnhold) },
	"ChannelDtmfReceived":  func() Event { return new(ChannelDtmfReceived) },
	"ChannelEnteredBridge": func() Event { return new(ChannelEnteredBridge) },
	"ChannelLeftBridge":    func() Event { return new(ChannelLeftBridge) },
	"BridgeCreated":        func() Event { return new(BridgeCreated) },
	"BridgeDestroyed":      func() Event { return new(BridgeDestroyed) },
	"PlaybackStarted":      func() Event { return new(PlaybackStarted) },
	"PlaybackContinuing":   func() Event { return new(PlaybackContinuing) },
	"PlaybackFinished":     func() Event { return new(PlaybackFinished) },
	"ChannelVarset":        func() Event { return new(ChannelVarset) },
	"Dial":                 func() Event { return new(Dial) },
	"ApplicationReplaced":  func() Event { return new(ApplicationReplaced) },
}

// DecodeEvent decodes one WebSocket message. A known type that fails to
// decode is returned as a *RawEvent together with the error, so the caller
// can still deliver it (and count the malformed message); only a message
// that is not a JSON object with a "type" fails without an event.
func DecodeEvent(data []byte) (Event, error) {
	// Fast path: find the type with a scan instead of a second full JSON
	// pass (decoding is most of the client's CPU). Anything unusual — no
	// plain top-level "type", a duplicate or differently cased key that
	// encoding/json would resolve otherwise — takes the general path.
	if typ, ok := scanType(data); ok {
		if mk, known := decoders[typ]; known {
			ev := mk()
			if err := json.Unmarshal(data, ev); err == nil && ev.Base().Type == typ {
				ev.Base().Raw = json.RawMessage(append([]byte(nil), data...))
				return ev, nil
			}
		}
	}
	return decodeEventSlow(data)
}

// decodeEventSlow is DecodeEvent's general path.
func decodeEventSlow(data []byte) (Event, error) {
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("ari: event is not a JSON object: %w", err)
	}
	if head.Type == "" {
		return nil, fmt.Errorf("ari: event has no type")
	}
	raw := json.RawMessage(append([]byte(nil), data...))
	mk, ok := decoders[head.Type]
	if !ok {
		ev := &RawEvent{}
		_ = json.Unmarshal(data, &ev.EventBase) // type is known to decode; other base fields are best effort
		ev.Type, ev.Raw = head.Type, raw
		return ev, nil
	}
	ev := mk()
	if err := json.Unmarshal(data, ev); err != nil {
		fallback := &RawEvent{}
		_ = json.Unmarshal(data, &fallback.EventBase)
		fallback.Type, fallback.Raw = head.Type, raw
		return fallback, fmt.Errorf("ari: decoding %s: %w", head.Type, err)
	}
	ev.Base().Raw = raw
	return ev, nil
}

// scanType returns the string value of the first top-level "type" key of a
// JSON object, without decoding the rest. ok is false for anything it does
// not understand; the caller then decodes properly.
func scanType(data []byte) (string, bool) {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return "", false
	}
	i++
	for {
		i = skipSpace(data, i)
		if i >= len(data) || data[i] != '"' {
			return "", false
		}
		end, ok := skipString(data, i)
		if !ok {
			return "", false
		}
		key := data[i+1 : end-1]
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return "", false
		}
		i = skipSpace(data, i+1)
		if string(key) == "type" {
			if i >= len(data) || data[i] != '"' {
				return "", false
			}
			end, ok := skipString(data, i)
			if !ok {
				return "", false
			}
			val := data[i+1 : end-1]
			if bytes.IndexByte(val, '\\') >= 0 {
				return "", false // escapes: let encoding/json decode it
			}
			return string(val), true
		}
		if i, ok = skipValue(data, i); !ok {
			return "", false
		}
		i = skipSpace(data, i)
		if i >= len(data) || data[i] != ',' {
			return "", false
		}
		i++
	}
}

func skipSpace(data []byte, i int) int {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at data[i] == '"'.
func skipString(data []byte, i int) (int, bool) {
	for j := i + 1; j < len(data); j++ {
		switch data[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// skipValue returns the index after the JSON value starting at data[i].
func skipValue(data []byte, i int) (int, bool) {
	if i >= len(data) {
		return 0, false
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(data); j++ {
			switch data[j] {
			case '"':
				end, ok := skipString(data, j)
				if !ok {
					return 0, false
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	default: // number, true, false, null
		j := i
		for j < len(data) && data[j] != ',' && data[j] != '}' && data[j] != ']' && data[j] != ' ' && data[j] != '\t' && data[j] != '\n' && data[j] != '\r' {
			j++
		}
		return j, j > i
	}
}

// Refs are the object ids an event is about, for logging and routing.
type Refs struct {
	ChannelID  string // the channel the event is about (Dial: the peer)
	PeerID     string // Dial: the caller channel, if any
	BridgeID   string
	PlaybackID string
	// PlaybackTarget is the playback's target id without its scheme prefix
	// ("channel:" or "bridge:").
	PlaybackTarget string
}

// RefsOf returns the ids an event refers to.
func RefsOf(ev Event) Refs {
	switch e := ev.(type) {
	case *StasisStart:
		return Refs{ChannelID: e.Channel.ID}
	case *StasisEnd:
		return Refs{ChannelID: e.Channel.ID}
	case *ChannelCreated:
		return Refs{ChannelID: e.Channel.ID}
	case *ChannelStateChange:
		return Refs{ChannelID: e.Channel.ID}
	case *ChannelDestroyed:
		return Refs{ChannelID: e.Channel.ID}
	case *ChannelHangupRequest:
		return Refs{ChannelID: e.Channel.ID}
	case *ChannelHold:
		return Refs{ChannelID: e.Channel.ID}
	case *ChannelUnhold:
		return Refs{ChannelID: e.Channel.ID}
	case *ChannelDtmfReceived:
		return Refs{ChannelID: e.Channel.ID}
	case *ChannelEnteredBridge:
		return Refs{ChannelID: e.Channel.ID, BridgeID: e.Bridge.ID}
	case *ChannelLeftBridge:
		return Refs{ChannelID: e.Channel.ID, BridgeID: e.Bridge.ID}
	case *BridgeCreated:
		return Refs{BridgeID: e.Bridge.ID}
	case *BridgeDestroyed:
		return Refs{BridgeID: e.Bridge.ID}
	case *PlaybackStarted:
		return playbackRefs(&e.Playback)
	case *PlaybackContinuing:
		return playbackRefs(&e.Playback)
	case *PlaybackFinished:
		return playbackRefs(&e.Playback)
	case *ChannelVarset:
		if e.Channel != nil {
			return Refs{ChannelID: e.Channel.ID}
		}
	case *Dial:
		r := Refs{ChannelID: e.Peer.ID}
		if e.Caller != nil {
			r.PeerID = e.Caller.ID
		}
		return r
	}
	return Refs{}
}

func playbackRefs(p *Playback) Refs {
	r := Refs{PlaybackID: p.ID}
	target := p.TargetURI
	for _, prefix := range []string{"channel:", "bridge:"} {
		if len(target) > len(prefix) && target[:len(prefix)] == prefix {
			r.PlaybackTarget = target[len(prefix):]
			if prefix == "channel:" {
				r.ChannelID = r.PlaybackTarget
			} else {
				r.BridgeID = r.PlaybackTarget
			}
		}
	}
	return r
}
