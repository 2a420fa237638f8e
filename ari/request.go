package ari

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"
)

// Request describes one finished REST request, for a request log and
// metrics (Config.OnRequest). It never carries credentials: those travel
// in a header, and the raw query is not kept.
type Request struct {
	Method string
	// Route is the path with its ids replaced, e.g.
	// "/bridges/{id}/removeChannel": one value per kind of request.
	Route string
	// The ids the request concerns, from its path and its channel query
	// parameter.
	ChannelID, BridgeID, PlaybackID string
	// Tag is what the caller made the request for (WithTag).
	Tag Tag
	// Status is the HTTP status; 0 when no reply came.
	Status   int
	Duration time.Duration
	// Err is the request's error (an *APIError, or a refusal before
	// sending); nil on success.
	Err error
}

// Message is Asterisk's error text of a failed request, verbatim, or the
// transport error; "" on success.
func (r *Request) Message() string {
	var ae *APIError
	if errors.As(r.Err, &ae) {
		return ae.Message
	}
	if r.Err != nil {
		return r.Err.Error()
	}
	return ""
}

// Tag names what a request is made for, so that its log line can say so.
type Tag struct {
	CallID string
	Party  string
}

type tagKey struct{}

// WithTag returns ctx carrying t for the requests made with it.
func WithTag(ctx context.Context, t Tag) context.Context { return context.WithValue(ctx, tagKey{}, t) }

// TagOf returns the tag ctx carries, if any.
func TagOf(ctx context.Context) Tag {
	t, _ := ctx.Value(tagKey{}).(Tag)
	return t
}

// idAfter names the kind of id that follows a collection in an ARI path.
var idAfter = map[string]string{
	"channels": "channel", "bridges": "bridge", "playbacks": "playback",
	"applications": "name", "recordings": "name", "deviceStates": "name",
	"endpoints": "tech", "live": "name", "stored": "name", "sounds": "id",
	"play": "playback", // POST /channels/{id}/play/{playbackId}
}

// notAnID are the words that follow a collection but name an operation.
var notAnID = map[string]bool{"create": true, "externalMedia": true, "live": true, "stored": true}

// routeOf fills r's Route and ids from a request path (below the ARI base
// URL) and its query.
func (r *Request) routeOf(path string, q url.Values) {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	for i := 1; i < len(segs); i++ {
		kind, ok := idAfter[segs[i-1]]
		if !ok || notAnID[segs[i]] {
			continue
		}
		id, err := url.PathUnescape(segs[i])
		if err != nil {
			id = segs[i]
		}
		switch kind {
		case "channel":
			r.ChannelID = id
		case "bridge":
			r.BridgeID = id
		case "playback":
			r.PlaybackID = id
		}
		segs[i] = "{" + kindName(kind) + "}"
		if kind == "tech" && i+1 < len(segs) {
			segs[i+1] = "{resource}"
			i++
		}
	}
	if r.ChannelID == "" {
		r.ChannelID = q.Get("channel")
	}
	r.Route = "/" + strings.Join(segs, "/")
}

func kindName(kind string) string {
	switch kind {
	case "channel", "bridge", "playback", "id":
		return "id"
	}
	return kind
}
