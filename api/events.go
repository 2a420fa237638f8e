package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/ariapp/ariapp/app"
)

// streamRetryAfter is the Retry-After, in seconds, of a stream refused
// because MaxStreams are open.
const streamRetryAfter = 5

// errStreamLagging ends a stream whose client reads, but so slowly that
// it keeps losing events for longer than the stall timeout.
var errStreamLagging = errors.New("the client keeps losing events to a full buffer")

// StreamStats are the event streams' figures in GET /v1/stats.
type StreamStats struct {
	// Open is the number of streams now open; Max their bound.
	Open int `json:"open"`
	Max  int `json:"max"`
	// Opened counts the streams ever opened; Rejected those refused
	// because Max were open.
	Opened   uint64 `json:"opened_total"`
	Rejected uint64 `json:"rejected_total"`
	// Stalled counts the streams ended because their client stalled.
	Stalled uint64 `json:"stalled_total"`
	// LostEvents counts the events streams lost to a full buffer.
	LostEvents uint64 `json:"lost_events_total"`
}

// streamCounters is the state behind StreamStats.
type streamCounters struct {
	mu                        sync.Mutex
	open                      map[*app.Subscription]struct{}
	opened, rejected, stalled uint64
	lostOfEnded               uint64
}

// StreamStats reports the event streams' figures.
func (s *Server) StreamStats() StreamStats {
	c := &s.streams
	c.mu.Lock()
	defer c.mu.Unlock()
	st := StreamStats{Open: len(c.open), Max: s.cfg.MaxStreams, Opened: c.opened, Rejected: c.rejected,
		Stalled: c.stalled, LostEvents: c.lostOfEnded}
	for sub := range c.open {
		st.LostEvents += sub.Dropped()
	}
	return st
}

// openStream subscribes a new stream unless MaxStreams are open.
func (s *Server) openStream(callID string) (*app.Subscription, bool) {
	c := &s.streams
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.open) >= s.cfg.MaxStreams {
		c.rejected++
		return nil, false
	}
	sub := s.calls.Subscribe(callID)
	c.open[sub] = struct{}{}
	c.opened++
	return sub, true
}

func (s *Server) closeStream(sub *app.Subscription, stalled bool) {
	sub.Close()
	c := &s.streams
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.open, sub)
	c.lostOfEnded += sub.Dropped()
	if stalled {
		c.stalled++
	}
}

// events streams SPEC events as Server-Sent Events: "event: NAME",
// "id: CALL_ID:SEQ", "data: JSON". If the client reads too slowly and events
// were dropped for it, an "event: lost" with the count tells it to resync
// (GET /v1/calls). A client that stalls (see Config.StreamStallTimeout)
// loses its stream; every stream ends when the server stops.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	callID := r.URL.Query().Get("call_id")
	if callID != "" {
		if _, err := s.calls.Call(callID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if r.Method == http.MethodHead {
		// The mux routes HEAD here too: a stream would hold the connection.
		setStreamHeaders(w)
		w.WriteHeader(http.StatusOK)
		return
	}
	sub, ok := s.openStream(callID)
	if !ok {
		w.Header().Set("Retry-After", strconv.Itoa(streamRetryAfter))
		writeError(w, http.StatusServiceUnavailable, CodeOverloaded,
			fmt.Sprintf("%d event streams are open, the most ariapp serves; retry later", s.cfg.MaxStreams))
		return
	}
	st := &stream{s: s, w: w, rc: http.NewResponseController(w), r: r, sub: sub, callID: callID}
	// Stopping aborts a write blocked on a stalled client at once.
	stopAbort := context.AfterFunc(s.streamsCtx, func() {
		st.aborted.Store(true)
		_ = st.rc.SetWriteDeadline(time.Now())
	})
	err := st.run()
	stopAbort()
	stalled := st.stalled(err)
	s.closeStream(sub, stalled)
	if !stalled && err != nil {
		s.log.Debug("event stream ended by a failed write", zap.String("remote", r.RemoteAddr),
			zap.Uint64("subscriber", sub.ID()), zap.Error(err))
	}
	if stalled {
		s.log.Warn("event stream client stalled; stream closed",
			zap.String("remote", r.RemoteAddr), zap.Uint64("subscriber", sub.ID()), zap.String("call_id", callID),
			zap.Uint64("events_sent", st.sent), zap.Uint64("events_lost", sub.Dropped()),
			zap.Duration("stall_timeout", s.cfg.StreamStallTimeout), zap.Error(err))
	}
}

func setStreamHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
}

// stream is one client of GET /v1/events.
type stream struct {
	s      *Server
	w      http.ResponseWriter
	rc     *http.ResponseController
	r      *http.Request
	sub    *app.Subscription
	callID string
	// aborted: the server stopped and cut the stream's writes short.
	aborted atomic.Bool
	sent    uint64
	// reported is the drop count the client was last told of. The
	// stream has been losing events since losingSince, the last time at
	// lastLoss: it caught up when a quarter of the stall timeout passes
	// without a loss.
	reported    uint64
	losingSince time.Time
	lastLoss    time.Time
}

// run writes the stream until the client leaves, the call ends (a stream
// of one call), the server stops, or a write fails.
func (st *stream) run() error {
	setStreamHeaders(st.w)
	st.w.WriteHeader(http.StatusOK)
	opening := ": ariapp events\n\n"
	if st.callID != "" {
		opening = ": ariapp events of call " + st.callID + "\n\n"
	}
	if err := st.write(opening); err != nil {
		return err
	}
	hb := time.NewTicker(st.s.cfg.Heartbeat)
	defer hb.Stop()
	for {
		select {
		case <-st.r.Context().Done():
			return nil
		case <-st.s.streamsCtx.Done():
			return nil
		case <-hb.C:
			if err := st.write(": keep-alive\n\n"); err != nil {
				return err
			}
		case ev, ok := <-st.sub.C:
			if !ok {
				return nil
			}
			if err := st.event(ev); err != nil {
				return err
			}
			if st.callID != "" && ev.Name == app.EventCallEnded {
				return nil // the call is over: so is its stream
			}
		}
	}
}

// event writes ev, preceded by a "lost" notice when events were dropped
// since the last one.
func (st *stream) event(ev app.Event) error {
	if d := st.sub.Dropped(); d > st.reported {
		now := time.Now()
		if st.losingSince.IsZero() || now.Sub(st.lastLoss) > st.s.cfg.StreamStallTimeout/4 {
			st.losingSince = now
		}
		st.lastLoss = now
		if now.Sub(st.losingSince) >= st.s.cfg.StreamStallTimeout {
			return errStreamLagging
		}
		if err := st.write(fmt.Sprintf("event: lost\ndata: {\"dropped\":%d}\n\n", d-st.reported)); err != nil {
			return err
		}
		st.reported = d
	}
	data, err := json.Marshal(ev)
	if err != nil {
		st.s.log.Error("encoding event", zap.Error(err), zap.String("call_id", ev.CallID))
		return nil
	}
	if err := st.write(fmt.Sprintf("event: %s\nid: %s:%d\ndata: %s\n\n", ev.Name, ev.CallID, ev.Seq, data)); err != nil {
		return err
	}
	st.sent++
	return nil
}

// write sends one frame and flushes it to the client within the stall
// timeout.
func (st *stream) write(frame string) error {
	err := st.rc.SetWriteDeadline(time.Now().Add(st.s.cfg.StreamStallTimeout))
	if err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}

	// Checked after the deadline is set: a stop that came before it
	// ends the stream here, one after it cuts this write short.
	if st.s.streamsCtx.Err() != nil {
		return nil
	}
	if _, err := io.WriteString(st.w, frame); err != nil {
		return err
	}
	return st.rc.Flush()
}

// stalled reports whether err, which ended the stream, means the client
// stalled (rather than left, or ariapp stopped).
func (st *stream) stalled(err error) bool {
	if errors.Is(err, errStreamLagging) {
		return true
	}
	return errors.Is(err, os.ErrDeadlineExceeded) && !st.aborted.Load()
}
