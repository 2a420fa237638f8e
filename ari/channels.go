package ari

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// HangupReason is the reason ARI accepts on DELETE /channels/{id}; Asterisk
// maps it to a Q.850 cause the far end sees.
type HangupReason string

// Hangup reasons ARI accepts.
const (
	HangupNormal      HangupReason = "normal"
	HangupBusy        HangupReason = "busy"
	HangupCongestion  HangupReason = "congestion"
	HangupNoAnswer    HangupReason = "no_answer"
	HangupTimeout     HangupReason = "timeout"
	HangupRejected    HangupReason = "rejected"
	HangupUnallocated HangupReason = "unallocated"
	HangupFailure     HangupReason = "failure"
)

// MuteDirection selects which audio direction Mute/Unmute affects.
type MuteDirection string

// Mute directions.
const (
	MuteBoth MuteDirection = "both"
	MuteIn   MuteDirection = "in"
	MuteOut  MuteDirection = "out"
)

// OriginateParams are POST /channels's parameters. Either App (the channel
// goes straight into Stasis) or Extension/Context/Priority is given.
type OriginateParams struct {
	Endpoint  string // e.g. "PJSIP/bob" or "Local/talk@ariapp-test" (required)
	ChannelID string // client-chosen id, so events can be matched before the reply
	// OtherChannelID is the id of the second half of a Local channel.
	OtherChannelID string
	App            string   // Stasis application to put the channel in
	AppArgs        []string // Stasis arguments (StasisStart.Args)
	Extension      string
	Context        string
	Priority       int
	CallerID       string        // e.g. `"Alice" <alice>`
	Timeout        time.Duration // ring time before giving up (whole seconds; default Asterisk's 30 s)
	Originator     string        // channel id this originate is "on behalf of"
	Formats        string        // e.g. "ulaw"
	Variables      map[string]string
	// ReportVariables asks Asterisk (22.10 and later) to include
	// Variables in the channel's JSON of every event and of GET /channels
	// (channelvars). An older Asterisk refuses such an originate (400).
	ReportVariables bool
}

// CreateParams are POST /channels/create's parameters: a channel that is
// created but not dialled until Dial.
type CreateParams struct {
	Endpoint       string // required
	App            string // required
	AppArgs        []string
	ChannelID      string
	OtherChannelID string
	Originator     string
	Formats        string
	Variables      map[string]string
}

// varsBody is the body of POST /channels and POST /channels/{id}/variables.
type varsBody struct {
	Variables map[string]string
	Report    bool
}

// reportedVar is a variable that Asterisk includes in the channel's JSON
// (report_events, Asterisk 22.10).
type reportedVar struct {
	Value        string `json:"value"`
	ReportEvents bool   `json:"report_events"`
}

func (b varsBody) MarshalJSON() ([]byte, error) {
	if !b.Report {
		return json.Marshal(struct {
			Variables map[string]string `json:"variables"`
		}{b.Variables})
	}
	vars := make(map[string]reportedVar, len(b.Variables))
	for k, v := range b.Variables {
		vars[k] = reportedVar{Value: v, ReportEvents: true}
	}
	return json.Marshal(struct {
		Variables map[string]reportedVar `json:"variables"`
	}{vars})
}

// joinArgs joins Stasis arguments the way ARI's appArgs expects.
func joinArgs(args []string) string { return strings.Join(args, ",") }

// Originate creates a channel and dials it (POST /channels).
func (c *Client) Originate(ctx context.Context, p OriginateParams) (*Channel, error) {
	if p.Endpoint == "" {
		return nil, invalidArg("originate: endpoint is empty")
	}
	if p.App == "" && p.Extension == "" {
		return nil, invalidArg("originate: neither app nor extension given")
	}
	q := url.Values{}
	q.Set("endpoint", p.Endpoint)
	setIf(q, "channelId", p.ChannelID)
	setIf(q, "otherChannelId", p.OtherChannelID)
	setIf(q, "app", p.App)
	if len(p.AppArgs) > 0 {
		q.Set("appArgs", joinArgs(p.AppArgs))
	}
	setIf(q, "extension", p.Extension)
	setIf(q, "context", p.Context)
	if p.Priority > 0 {
		q.Set("priority", strconv.Itoa(p.Priority))
	}
	setIf(q, "callerId", p.CallerID)
	if p.Timeout > 0 {
		q.Set("timeout", strconv.Itoa(int((p.Timeout+time.Second-1)/time.Second)))
	}
	setIf(q, "originator", p.Originator)
	setIf(q, "formats", p.Formats)
	var body any
	if len(p.Variables) > 0 {
		body = varsBody{Variables: p.Variables, Report: p.ReportVariables}
	}
	var out Channel
	if err := c.call(ctx, "POST", "/channels", q, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateChannel creates a channel in Stasis without dialling it
// (POST /channels/create); Dial starts it ringing.
func (c *Client) CreateChannel(ctx context.Context, p CreateParams) (*Channel, error) {
	if p.Endpoint == "" || p.App == "" {
		return nil, invalidArg("create channel: endpoint and app are required")
	}
	q := url.Values{}
	q.Set("endpoint", p.Endpoint)
	q.Set("app", p.App)
	if len(p.AppArgs) > 0 {
		q.Set("appArgs", joinArgs(p.AppArgs))
	}
	setIf(q, "channelId", p.ChannelID)
	setIf(q, "otherChannelId", p.OtherChannelID)
	setIf(q, "originator", p.Originator)
	setIf(q, "formats", p.Formats)
	var body any
	if len(p.Variables) > 0 {
		body = varsBody{Variables: p.Variables}
	}
	var out Channel
	if err := c.call(ctx, "POST", "/channels/create", q, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Dial dials a channel made by CreateChannel (POST /channels/{id}/dial).
// caller, if set, is the channel whose dial this is (for Dial events);
// timeout 0 means Asterisk's default.
func (c *Client) Dial(ctx context.Context, channelID, caller string, timeout time.Duration) error {
	p, err := path("channel", channelID, "dial")
	if err != nil {
		return err
	}
	q := url.Values{}
	setIf(q, "caller", caller)
	if timeout > 0 {
		q.Set("timeout", strconv.Itoa(int((timeout+time.Second-1)/time.Second)))
	}
	return c.call(ctx, "POST", p, q, nil, nil)
}

// Channel returns one channel (GET /channels/{id}).
func (c *Client) Channel(ctx context.Context, channelID string) (*Channel, error) {
	p, err := path("channel", channelID)
	if err != nil {
		return nil, err
	}
	var out Channel
	if err := c.call(ctx, "GET", p, nil, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Channels lists every channel Asterisk has (GET /channels).
func (c *Client) Channels(ctx context.Context) ([]Channel, error) {
	var out []Channel
	if err := c.call(ctx, "GET", "/channels", nil, nil, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// Answer answers a ringing channel.
func (c *Client) Answer(ctx context.Context, channelID string) error {
	return c.channelOp(ctx, "POST", channelID, "answer", nil)
}

// Ring indicates ringing to a channel (the caller hears ringback).
func (c *Client) Ring(ctx context.Context, channelID string) error {
	return c.channelOp(ctx, "POST", channelID, "ring", nil)
}

// RingStop stops indicating ringing.
func (c *Client) RingStop(ctx context.Context, channelID string) error {
	return c.channelOp(ctx, "DELETE", channelID, "ring", nil)
}

// Hangup hangs a channel up with a reason ("" means normal).
func (c *Client) Hangup(ctx context.Context, channelID string, reason HangupReason) error {
	p, err := path("channel", channelID)
	if err != nil {
		return err
	}
	q := url.Values{}
	setIf(q, "reason", string(reason))
	return c.call(ctx, "DELETE", p, q, nil, nil)
}

// Play starts a playback on a channel with a client-chosen playback id, so
// PlaybackStarted can be matched even when it arrives before this reply.
// Media items are URIs such as "tone:440/500|0/2500" or "sound:hello-world".
func (c *Client) Play(ctx context.Context, channelID, playbackID string, media ...string) (*Playback, error) {
	return c.play(ctx, "channel", channelID, playbackID, media)
}

func (c *Client) play(ctx context.Context, kind, id, playbackID string, media []string) (*Playback, error) {
	pb, err := seg("playback", playbackID)
	if err != nil {
		return nil, err
	}
	p, err := path(kind, id, "play", pb)
	if err != nil {
		return nil, err
	}
	m, err := mediaList(media)
	if err != nil {
		return nil, err
	}
	var out Playback
	if err := c.call(ctx, "POST", p, url.Values{"media": {m}}, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// StartMOH starts music on hold on a channel; class "" is the default class.
// Note: Asterisk answers 204 even for an unknown class and emits no event.
func (c *Client) StartMOH(ctx context.Context, channelID, class string) error {
	q := url.Values{}
	setIf(q, "mohClass", class)
	return c.channelOp(ctx, "POST", channelID, "moh", q)
}

// StopMOH stops music on hold on a channel.
func (c *Client) StopMOH(ctx context.Context, channelID string) error {
	return c.channelOp(ctx, "DELETE", channelID, "moh", nil)
}

// Hold indicates hold to the channel's own device (POST /channels/{id}/hold).
// This is not a hold of the call: the peer still hears the channel.
func (c *Client) Hold(ctx context.Context, channelID string) error {
	return c.channelOp(ctx, "POST", channelID, "hold", nil)
}

// Unhold removes the hold indication.
func (c *Client) Unhold(ctx context.Context, channelID string) error {
	return c.channelOp(ctx, "DELETE", channelID, "hold", nil)
}

// Mute mutes a channel in a direction ("" means both).
func (c *Client) Mute(ctx context.Context, channelID string, dir MuteDirection) error {
	q := url.Values{}
	setIf(q, "direction", string(dir))
	return c.channelOp(ctx, "POST", channelID, "mute", q)
}

// Unmute unmutes a channel in a direction ("" means both).
func (c *Client) Unmute(ctx context.Context, channelID string, dir MuteDirection) error {
	q := url.Values{}
	setIf(q, "direction", string(dir))
	return c.channelOp(ctx, "DELETE", channelID, "mute", q)
}

// GetVar reads a channel variable (or dialplan function, e.g. "CHANNEL(state)").
// An unset variable is ErrNotFound.
func (c *Client) GetVar(ctx context.Context, channelID, name string) (string, error) {
	if name == "" {
		return "", invalidArg("variable name is empty")
	}
	p, err := path("channel", channelID, "variable")
	if err != nil {
		return "", err
	}
	var out Variable
	if err := c.call(ctx, "GET", p, url.Values{"variable": {name}}, nil, &out); err != nil {
		return "", err
	}
	return out.Value, nil
}

// GetVars reads several channel variables in one request
// (GET /channels/{id}/variables, Asterisk 22.10 and later); an unset one
// reads as "". An older Asterisk answers ErrNotSupported.
func (c *Client) GetVars(ctx context.Context, channelID string, names ...string) (map[string]string, error) {
	if len(names) == 0 {
		return nil, invalidArg("no variable names")
	}
	for _, n := range names {
		if n == "" || strings.Contains(n, ",") {
			return nil, invalidArg("bad variable name %q", n)
		}
	}
	p, err := path("channel", channelID, "variables")
	if err != nil {
		return nil, err
	}
	var out struct {
		Variables map[string]string `json:"variables"`
	}
	if err := c.call(ctx, "GET", p, url.Values{"variables": {strings.Join(names, ",")}}, nil, &out); err != nil {
		return nil, err
	}
	if out.Variables == nil {
		out.Variables = map[string]string{}
	}
	return out.Variables, nil
}

// SetVar sets a channel variable.
func (c *Client) SetVar(ctx context.Context, channelID, name, value string) error {
	if name == "" {
		return invalidArg("variable name is empty")
	}
	return c.channelOp(ctx, "POST", channelID, "variable", url.Values{"variable": {name}, "value": {value}})
}

// SetVars sets several channel variables in one request
// (POST /channels/{id}/variables, Asterisk 22.10 and later); with report,
// Asterisk includes them in the channel's JSON of every event and of
// GET /channels (channelvars) until a write without report replaces one.
// An older Asterisk answers ErrNotSupported.
func (c *Client) SetVars(ctx context.Context, channelID string, vars map[string]string, report bool) error {
	if len(vars) == 0 {
		return invalidArg("no variables")
	}
	for k := range vars {
		if k == "" {
			return invalidArg("variable name is empty")
		}
	}
	p, err := path("channel", channelID, "variables")
	if err != nil {
		return err
	}
	return c.call(ctx, "POST", p, nil, varsBody{Variables: vars, Report: report}, nil)
}

func (c *Client) channelOp(ctx context.Context, method, channelID, op string, q url.Values) error {
	p, err := path("channel", channelID, op)
	if err != nil {
		return err
	}
	return c.call(ctx, method, p, q, nil, nil)
}

func setIf(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

// SendDTMF plays DTMF digits to a channel (POST /channels/{id}/dtmf), as if
// its far end had pressed them on the keypad. between is the pause between
// digits and duration each digit's length (0: Asterisk's defaults).
func (c *Client) SendDTMF(ctx context.Context, channelID, digits string, between, duration time.Duration) error {
	if digits == "" {
		return invalidArg("no DTMF digits")
	}
	q := url.Values{"dtmf": {digits}}
	if between > 0 {
		q.Set("between", strconv.Itoa(int(between/time.Millisecond)))
	}
	if duration > 0 {
		q.Set("duration", strconv.Itoa(int(duration/time.Millisecond)))
	}
	return c.channelOp(ctx, "POST", channelID, "dtmf", q)
}
