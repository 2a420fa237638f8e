package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
)

// apiClient speaks ariapp's control API.
type apiClient struct {
	base  string
	token string
	// hc carries the operations: one kept-alive connection per call slot.
	hc *http.Client
	// stream carries the event stream (no timeout).
	stream *http.Client
}

// reqTimeout bounds one operation; ariapp's own bound is 30 s.
const reqTimeout = 45 * time.Second

func newAPIClient(base, token string, slots int) *apiClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = slots + 16
	tr.MaxIdleConnsPerHost = slots + 16
	tr.IdleConnTimeout = 90 * time.Second
	return &apiClient{
		base:   strings.TrimRight(base, "/"),
		token:  token,
		hc:     &http.Client{Transport: tr, Timeout: reqTimeout},
		stream: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()},
	}
}

// reply is the outcome of one request that reached ariapp.
type reply struct {
	Status int
	// Code and Message are the JSON error body's, for statuses >= 400.
	Code, Message string
}

func (r reply) String() string {
	if r.Code == "" {
		return strconv.Itoa(r.Status)
	}
	return fmt.Sprintf("%d %s: %s", r.Status, r.Code, r.Message)
}

// do sends one request; body, if not nil, goes as JSON; out, if not nil,
// receives a 2xx reply's JSON. err is a transport or decoding failure:
// then whether ariapp carried the request out is unknown.
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) (reply, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return reply{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	r := reply{Status: resp.StatusCode}
	if err != nil {
		return r, fmt.Errorf("reading the reply: %w", err)
	}
	if resp.StatusCode >= 400 {
		var eb api.ErrorBody
		if json.Unmarshal(data, &eb) == nil {
			r.Code, r.Message = eb.Error.Code, eb.Error.Message
		} else {
			r.Message = strings.TrimSpace(string(data))
		}
		return r, nil
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return r, fmt.Errorf("decoding the reply: %w: %.200s", err, data)
		}
	}
	return r, nil
}

// stats is GET /v1/stats (cmd/ariapp's Stats, the fields the tool reads).
type stats struct {
	Calls          int               `json:"calls"`
	Events         map[string]uint64 `json:"events"`
	ARI            ari.Stats         `json:"ari"`
	ARIConnected   bool              `json:"ari_connected"`
	Goroutines     int               `json:"goroutines"`
	HeapAllocBytes uint64            `json:"heap_alloc_bytes"`
	HeapObjects    uint64            `json:"heap_objects"`
	RSSBytes       uint64            `json:"rss_bytes"`
	MaxRSSBytes    uint64            `json:"max_rss_bytes"`
}

func (c *apiClient) stats(ctx context.Context) (stats, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var s stats
	r, err := c.do(ctx, http.MethodGet, "/v1/stats", nil, &s)
	if err != nil {
		return s, err
	}
	if r.Status != http.StatusOK {
		return s, fmt.Errorf("GET /v1/stats: %v", r)
	}
	return s, nil
}

// errStreamEnded: ariapp closed the event stream.
var errStreamEnded = errors.New("the event stream ended")

// events opens GET /v1/events and hands every SPEC event to onEvent and
// every "event: lost" count to onLost, in stream order, until ctx is done
// (then it returns nil) or the stream fails. ready is closed once ariapp
// has subscribed the stream (its first comment arrived).
func (c *apiClient) events(ctx context.Context, ready chan<- struct{}, onEvent func(app.Event), onLost func(uint64)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/events", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.stream.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("GET /v1/events: %d %s", resp.StatusCode, bytes.TrimSpace(b))
	}
	err = readSSE(resp.Body, ready, onEvent, onLost)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// readSSE parses Server-Sent Events: "event:", "data:" and "id:" fields,
// comments (":"), a blank line ending each message.
func readSSE(r io.Reader, ready chan<- struct{}, onEvent func(app.Event), onLost func(uint64)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var name string
	var data []byte
	signalled := false
	for sc.Scan() {
		line := sc.Bytes()
		if !signalled && ready != nil {
			close(ready)
			signalled = true
		}
		if len(line) == 0 {
			if name != "" || len(data) > 0 {
				if err := dispatchSSE(name, data, onEvent, onLost); err != nil {
					return err
				}
			}
			name, data = "", data[:0]
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			name = string(value)
		case "data":
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, value...)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return errStreamEnded
}

func dispatchSSE(name string, data []byte, onEvent func(app.Event), onLost func(uint64)) error {
	if name == "lost" {
		var l struct {
			Dropped uint64 `json:"dropped"`
		}
		if err := json.Unmarshal(data, &l); err != nil || l.Dropped == 0 {
			l.Dropped = 1 // a loss of unknown size is still a loss
		}
		onLost(l.Dropped)
		return nil
	}
	var ev app.Event
	if err := json.Unmarshal(data, &ev); err != nil {
		return fmt.Errorf("event %q: bad data: %w: %.200s", name, err, data)
	}
	if name != "" && name != string(ev.Name) {
		return fmt.Errorf("SSE event name %q but data says %q", name, ev.Name)
	}
	onEvent(ev)
	return nil
}
