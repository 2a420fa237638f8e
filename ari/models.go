package ari

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Time is a timestamp as ARI writes it ("2026-11-25T23:08:37.149+0000"),
// which encoding/json's RFC 3339 parser rejects for its colon-less offset.
type Time struct{ time.Time }

var timeLayouts = []string{
	"2006-01-02T15:04:05.000-0700",
	"2006-01-02T15:04:05-0700",
	time.RFC3339Nano,
}

// UnmarshalJSON accepts ARI's layout and RFC 3339; an empty string is the
// zero time.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	for _, layout := range timeLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v
			return nil
		}
	}
	return fmt.Errorf("ari: unrecognised timestamp %q", s)
}

// MarshalJSON writes ARI's layout.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte(`""`), nil
	}
	return json.Marshal(t.Format(timeLayouts[0]))
}

// CallerID is a name and number pair.
type CallerID struct {
	Name   string `json:"name"`
	Number string `json:"number"`
}

// DialplanCEP is a channel's position in the dialplan.
type DialplanCEP struct {
	Context  string `json:"context"`
	Exten    string `json:"exten"`
	Priority int64  `json:"priority"`
	AppName  string `json:"app_name"`
	AppData  string `json:"app_data"`
}

// Channel is ARI's channel model.
type Channel struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	State        string            `json:"state"` // Down, Rsrvd, OffHook, Dialing, Ring, Ringing, Up, Busy, ...
	Protocol     string            `json:"protocol_id,omitempty"`
	Caller       CallerID          `json:"caller"`
	Connected    CallerID          `json:"connected"`
	AccountCode  string            `json:"accountcode"`
	Dialplan     DialplanCEP       `json:"dialplan"`
	CreationTime Time              `json:"creationtime"`
	Language     string            `json:"language"`
	ChannelVars  map[string]string `json:"channelvars,omitempty"`
}

// Bridge is ARI's bridge model.
type Bridge struct {
	ID           string   `json:"id"`
	Technology   string   `json:"technology"`
	BridgeType   string   `json:"bridge_type"`  // mixing, holding
	BridgeClass  string   `json:"bridge_class"` // stasis, base, ...
	Creator      string   `json:"creator"`
	Name         string   `json:"name"`
	Channels     []string `json:"channels"`
	CreationTime Time     `json:"creationtime"`
}

// Playback is ARI's playback model.
type Playback struct {
	ID           string `json:"id"`
	MediaURI     string `json:"media_uri"`
	NextMediaURI string `json:"next_media_uri,omitempty"`
	TargetURI    string `json:"target_uri"` // "channel:ID" or "bridge:ID"
	Language     string `json:"language"`
	State        string `json:"state"` // queued, playing, continuing, done, failed, cancelled
}

// Application is ARI's application model: what a Stasis app is subscribed to.
type Application struct {
	Name        string   `json:"name"`
	ChannelIDs  []string `json:"channel_ids"`
	BridgeIDs   []string `json:"bridge_ids"`
	EndpointIDs []string `json:"endpoint_ids"`
	DeviceNames []string `json:"device_names"`
}

// AsteriskInfo is the part of GET /asterisk/info that ariapp reports.
type AsteriskInfo struct {
	System struct {
		Version  string `json:"version"`
		EntityID string `json:"entity_id"`
	} `json:"system"`
	Status struct {
		StartupTime    Time `json:"startup_time"`
		LastReloadTime Time `json:"last_reload_time"`
	} `json:"status"`
}

// AsteriskPing is GET /asterisk/ping's reply.
type AsteriskPing struct {
	AsteriskID string `json:"asterisk_id"`
	Ping       string `json:"ping"`
	Timestamp  string `json:"timestamp"`
}

// Variable is a channel variable's value.
type Variable struct {
	Value string `json:"value"`
}
