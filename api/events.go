package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// events streams SPEC events as Server-Sent Events: "event: NAME",
// "id: CALL_ID:SEQ", "data: JSON". If the client reads too slowly and events
// were dropped for it, an "event: lost" with the count tells it to resync
// (GET /v1/calls).
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, http.StatusInternalServerError, CodeInternal, "streaming unsupported")
		return
	}
	callID := r.URL.Query().Get("call_id")
	if callID != "" {
		if _, err := s.calls.Call(callID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	sub := s.calls.Subscribe(callID)
	defer sub.Close()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return // the mux routes HEAD here too: a stream would hold the connection
	}
	fmt.Fprintf(w, ": ariapp events%s\n\n", map[bool]string{true: " of call " + callID, false: ""}[callID != ""])
	fl.Flush()

	hb := time.NewTicker(s.cfg.Heartbeat)
	defer hb.Stop()
	var lost uint64
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		case <-hb.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
			fl.Flush()
		case ev, ok := <-sub.C:
			if !ok {
				return
			}
			if d := sub.Dropped(); d > lost {
				fmt.Fprintf(w, "event: lost\ndata: {\"dropped\":%d}\n\n", d-lost)
				lost = d
			}
			data, err := json.Marshal(ev)
			if err != nil {
				s.log.Error("encoding event", zap.Error(err))
				continue
			}
			if _, err := fmt.Fprintf(w, "event: %s\nid: %s:%d\ndata: %s\n\n", ev.Name, ev.CallID, ev.Seq, data); err != nil {
				return
			}
			fl.Flush()
			if callID != "" && ev.Name == "call_ended" {
				return // the call is over: so is its stream
			}
		}
	}
}
