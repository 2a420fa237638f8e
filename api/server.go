package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/internal/confcheck"
)

// Calls is what the API needs of the application; *app.App implements it.
type Calls interface {
	Calls() []app.CallInfo
	Call(callID string) (app.CallInfo, error)
	Timeline(callID string) (app.Timeline, error)
	// Hold takes at most one HoldOptions; without, the default music.
	Hold(ctx context.Context, callID, party string, src app.Source, opts ...app.HoldOptions) (app.CallInfo, error)
	Resume(ctx context.Context, callID, party string, src app.Source) (app.CallInfo, error)
	Mute(ctx context.Context, callID, party string, dir app.MuteDirection, src app.Source) (app.CallInfo, error)
	Unmute(ctx context.Context, callID, party string, dir app.MuteDirection, src app.Source) (app.CallInfo, error)
	Hangup(ctx context.Context, callID string) (app.CallInfo, error)
	Originate(ctx context.Context, from, to string) (app.CallInfo, error)
	Subscribe(callID string) *app.Subscription
}

var _ Calls = (*app.App)(nil)

// Config configures the API server; see WithDefaults and Validate.
type Config struct {
	// Listen is the TCP address (default "127.0.0.1:8090").
	Listen string
	// Listener, if set, is served instead of listening on Listen: a caller
	// that binds the port first learns that it is taken before doing
	// anything else. Close closes it.
	Listener net.Listener
	// Token, if set, is required as "Authorization: Bearer TOKEN" on /v1
	// and /metrics.
	Token string
	// OperationTimeout bounds one hold, resume, mute, hangup or originate
	// (default 30 s).
	OperationTimeout time.Duration
	// MaxBodyBytes bounds a request body (default 16 KiB).
	MaxBodyBytes int64
	// Heartbeat is the interval of SSE keep-alive comments (default 15 s).
	Heartbeat time.Duration
	// Stats, if set, is served as JSON on GET /v1/stats (process and ARI
	// figures for operators and the load tool). It must encode as a JSON
	// object: the server adds its own "streams" figures (StreamStats).
	Stats func() any
	// MaxStreams bounds the concurrent GET /v1/events streams (default
	// 256); beyond it a new stream is answered 503 "overloaded" with
	// Retry-After. Each stream costs a connection, a goroutine and an
	// event buffer that grows while its client lags.
	MaxStreams int
	// StreamStallTimeout is how long an event-stream client may stall
	// (default 10 s): a write to it that blocks longer ends the stream, and
	// so does losing events to a full buffer for longer, without a quarter
	// of it free of losses. It is counted (StreamStats.Stalled) and logged
	// once.
	StreamStallTimeout time.Duration
	// Metrics, if set, serves GET /metrics (the Prometheus exposition),
	// behind the token like /v1: the figures tell who calls how much.
	Metrics http.Handler
	// Wrap, if set, wraps the handler of every known route, after the
	// token check: a cluster sends a request for a call that another
	// instance runs to that instance, whatever the endpoint.
	Wrap func(http.Handler) http.Handler
}

// metricsPath is where Config.Metrics is served.
const metricsPath = "/metrics"

// Server serves the control API.
type Server struct {
	cfg   Config
	calls Calls
	ready func() error
	log   *zap.Logger
	mux   *http.ServeMux
	inner http.Handler // mux, wrapped by Config.Wrap

	mu       sync.Mutex
	srv      *http.Server
	ln       net.Listener
	closeErr error
	once     sync.Once
	wg       sync.WaitGroup

	// streamsCtx ends every event stream when the server stops: a stream
	// never ends by itself, and one whose client stalled would otherwise
	// hold the graceful stop for the whole stall timeout.
	streamsCtx context.Context
	endStreams context.CancelFunc
	streams    streamCounters
	// draining: ariapp is stopping; requests that change calls get 503.
	draining atomic.Bool
}

// Defaults of the zero Config fields, as New fills them in.
const (
	DefaultListen             = "127.0.0.1:8090"
	DefaultOperationTimeout   = 30 * time.Second
	DefaultMaxBodyBytes       = 16 << 10
	DefaultHeartbeat          = 15 * time.Second
	DefaultMaxStreams         = 256
	DefaultStreamStallTimeout = 10 * time.Second
)

// WithDefaults returns c with every zero field set to its default; a
// negative duration or size counts as zero.
func (c Config) WithDefaults() Config {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	confcheck.Default(&c.OperationTimeout, DefaultOperationTimeout)
	confcheck.Default(&c.MaxBodyBytes, DefaultMaxBodyBytes)
	confcheck.Default(&c.Heartbeat, DefaultHeartbeat)
	confcheck.Default(&c.MaxStreams, DefaultMaxStreams)
	confcheck.Default(&c.StreamStallTimeout, DefaultStreamStallTimeout)
	return c
}

// Validate reports every field of c that the server cannot work with, each
// as a confcheck.FieldError. It checks c as given: a zero field is invalid
// here, because New applies WithDefaults first.
func (c Config) Validate() error {
	ck := confcheck.New("api", nil)
	if host, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		ck.Fail("Listen", "%q is not host:port", c.Listen)
	} else if host == "" {
		// ":8090" would listen on every interface, easily unnoticed.
		ck.Fail("Listen", "%q has no host: name the interface (127.0.0.1 for loopback only)", c.Listen)
	}
	ck.Positive("OperationTimeout", c.OperationTimeout)
	if c.MaxBodyBytes < 1 {
		ck.Fail("MaxBodyBytes", "must be at least 1, got %d", c.MaxBodyBytes)
	}
	ck.Positive("Heartbeat", c.Heartbeat)
	if c.MaxStreams < 1 {
		ck.Fail("MaxStreams", "must be at least 1, got %d", c.MaxStreams)
	}
	ck.Positive("StreamStallTimeout", c.StreamStallTimeout)
	return ck.Err()
}

// New builds the server with cfg.WithDefaults(); Start validates it. ready
// reports why the application cannot serve requests that need Asterisk
// (nil when it can), for /readyz and a 503 on /v1 while ARI is down.
func New(cfg Config, calls Calls, ready func() error, log *zap.Logger) *Server {
	cfg = cfg.WithDefaults()
	if log == nil {
		log = zap.NewNop()
	}
	if ready == nil {
		ready = func() error { return nil }
	}
	s := &Server{cfg: cfg, calls: calls, ready: ready, log: log}
	s.streamsCtx, s.endStreams = context.WithCancel(context.Background())
	s.streams.open = map[*app.Subscription]struct{}{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /v1/calls", s.v1(s.listCalls))
	mux.Handle("POST /v1/calls", s.v1(s.originate))
	mux.Handle("GET /v1/calls/{id}", s.v1(s.getCall))
	mux.Handle("GET /v1/calls/{id}/timeline", s.v1(s.getTimeline))
	mux.Handle("DELETE /v1/calls/{id}", s.v1(s.hangup))
	mux.Handle("POST /v1/calls/{id}/hold", s.v1(s.hold))
	mux.Handle("POST /v1/calls/{id}/unhold", s.v1(s.unhold))
	mux.Handle("POST /v1/calls/{id}/mute", s.v1(s.mute))
	mux.Handle("POST /v1/calls/{id}/unmute", s.v1(s.unmute))
	mux.Handle("GET /v1/events", s.v1(s.events))
	mux.Handle("GET /v1/stats", s.v1(s.stats))
	if cfg.Metrics != nil {
		mux.Handle("GET "+metricsPath, cfg.Metrics)
	}
	mux.Handle("GET /v1/openapi.json", s.v1(s.openapi))
	s.handleConsole(mux)
	s.mux = mux
	s.inner = mux
	if cfg.Wrap != nil {
		s.inner = cfg.Wrap(mux)
	}
	return s
}

// Handler is the API as an http.Handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.logRequests(s.route()) }

// route answers unknown paths and wrong methods with JSON errors instead of
// the mux's plain text.
func (s *Server) route() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.EscapedPath(); p != "/" && path.Clean(p) != p {
			// The mux would redirect to the cleaned path, without JSON.
			writeError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("no such resource: %s", p))
			return
		}
		// The token guards every /v1 path, also one that does not exist:
		// without it nobody learns which routes there are.
		if p := r.URL.Path; (p == "/v1" || strings.HasPrefix(p, "/v1/") || p == metricsPath) && !s.authorized(w, r) {
			return
		}
		h, pattern := s.mux.Handler(r)
		if pattern == "" {
			// The mux's own 404/405 handler: find out which, keep its Allow.
			rec := &statusRecorder{ResponseWriter: discardWriter{h: w.Header()}}
			h.ServeHTTP(rec, r)
			if rec.status == http.StatusMethodNotAllowed {
				writeError(w, http.StatusMethodNotAllowed, CodeMethodNotAllowed, fmt.Sprintf("%s is not allowed on %s", r.Method, r.URL.Path))
				return
			}
			writeError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("no such resource: %s", r.URL.Path))
			return
		}
		s.inner.ServeHTTP(w, r) // the mux sets the path values Handler does not
	})
}

// Start validates the config (Config.Validate), then listens and serves in
// the background; Addr tells where.
func (s *Server) Start() error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	ln := s.cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", s.cfg.Listen); err != nil {
			return fmt.Errorf("api: listen on %s: %w", s.cfg.Listen, err)
		}
	}
	ln = jsonErrorListener{ln}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          zap.NewStdLog(s.log),
	}
	srv.RegisterOnShutdown(s.endStreams)
	s.mu.Lock()
	s.srv, s.ln = srv, ln
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("api server stopped", zap.Error(err))
		}
	}()
	s.log.Info("control API listening", zap.String("addr", ln.Addr().String()), zap.Bool("token_required", s.cfg.Token != ""))
	return nil
}

// Addr is the address the server listens on (after Start).
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Drain makes the server refuse new work while ariapp stops: from now on
// /v1 requests other than GET answer 503 "unavailable", so no call starts
// while the calls are being hung up. Reads and event streams go on (they
// show the calls ending) until Close.
func (s *Server) Drain() { s.draining.Store(true) }

// Close stops the server: event streams end at once, in-flight requests
// get until ctx is done, then their connections are closed. Idempotent.
func (s *Server) Close(ctx context.Context) error {
	s.once.Do(func() {
		s.endStreams()
		s.mu.Lock()
		srv := s.srv
		s.mu.Unlock()
		if srv != nil {
			if s.closeErr = srv.Shutdown(ctx); s.closeErr != nil {
				_ = srv.Close()
			}
		}
		s.wg.Wait()
	})
	return s.closeErr
}

// authorized checks the bearer token, if one is configured, and answers
// 401 when it is missing or wrong.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.Token == "" {
		return true
	}
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	ok = ok && strings.EqualFold(scheme, "Bearer") // schemes are case-insensitive (RFC 9110)
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(s.cfg.Token)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ariapp"`)
		writeError(w, http.StatusUnauthorized, CodeUnauthorized, "a valid bearer token is required")
		return false
	}
	return true
}

// v1 wraps /v1 handlers with the readiness check; route has checked the
// token for every /v1 path before.
func (s *Server) v1(h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			if s.draining.Load() {
				writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "ariapp is stopping")
				return
			}
			if err := s.ready(); err != nil {
				writeError(w, http.StatusServiceUnavailable, CodeUnavailable, "not ready: "+err.Error())
				return
			}
		}
		h(w, r)
	})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if err := s.ready(); err != nil {
		writeError(w, http.StatusServiceUnavailable, CodeUnavailable, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// stats serves Config.Stats with the event streams' figures added as
// "streams".
func (s *Server) stats(w http.ResponseWriter, r *http.Request) {
	out := map[string]json.RawMessage{}
	if s.cfg.Stats != nil {
		data, err := json.Marshal(s.cfg.Stats())
		if err == nil {
			err = json.Unmarshal(data, &out)
		}
		if err != nil {
			s.fail(w, r, fmt.Errorf("api: statistics are not a JSON object: %w", err))
			return
		}
	}
	streams, err := json.Marshal(s.StreamStats())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out["streams"] = streams
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) listCalls(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"calls": s.calls.Calls()})
}

func (s *Server) getCall(w http.ResponseWriter, r *http.Request) {
	info, err := s.calls.Call(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// getTimeline is GET /v1/calls/{id}/timeline: the call's recent story.
func (s *Server) getTimeline(w http.ResponseWriter, r *http.Request) {
	tl, err := s.calls.Timeline(r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tl)
}

// PartyRequest is the body of unhold.
type PartyRequest struct {
	// Party is "caller", "callee" or one of the call's channel ids.
	Party string `json:"party"`
}

// HoldRequest is the body of hold.
type HoldRequest struct {
	// Party is "caller", "callee" or one of the call's channel ids.
	Party string `json:"party"`
	// Media is the music the held party hears (app.HoldOptions.Media);
	// omitted or "": the configured default.
	Media string `json:"media,omitempty"`
}

// MuteRequest is the body of mute and unmute.
type MuteRequest struct {
	// Party is "caller", "callee" or one of the call's channel ids.
	Party string `json:"party"`
	// Direction is "in" (what the party says), "out" (what it hears) or
	// "both"; "both" when omitted.
	Direction app.MuteDirection `json:"direction"`
}

// OriginateRequest is the body of POST /v1/calls.
type OriginateRequest struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func (s *Server) hold(w http.ResponseWriter, r *http.Request) {
	var req HoldRequest
	if !s.decode(w, r, &req) {
		return
	}
	s.partyOp(w, r, req.Party, func(ctx context.Context, callID, party string) (app.CallInfo, error) {
		return s.calls.Hold(ctx, callID, party, app.SourceAPI, app.HoldOptions{Media: req.Media})
	})
}

func (s *Server) unhold(w http.ResponseWriter, r *http.Request) {
	var req PartyRequest
	if !s.decode(w, r, &req) {
		return
	}
	s.partyOp(w, r, req.Party, func(ctx context.Context, callID, party string) (app.CallInfo, error) {
		return s.calls.Resume(ctx, callID, party, app.SourceAPI)
	})
}

func (s *Server) mute(w http.ResponseWriter, r *http.Request) {
	s.muteOp(w, r, s.calls.Mute)
}

func (s *Server) unmute(w http.ResponseWriter, r *http.Request) {
	s.muteOp(w, r, s.calls.Unmute)
}

func (s *Server) muteOp(w http.ResponseWriter, r *http.Request, op func(context.Context, string, string, app.MuteDirection, app.Source) (app.CallInfo, error)) {
	var req MuteRequest
	if !s.decode(w, r, &req) {
		return
	}
	if req.Direction == "" {
		req.Direction = app.MuteBoth
	}
	s.partyOp(w, r, req.Party, func(ctx context.Context, callID, party string) (app.CallInfo, error) {
		return op(ctx, callID, party, req.Direction, app.SourceAPI)
	})
}

// answer runs a call operation under the operation timeout and answers
// with the call or the error.
func (s *Server) answer(w http.ResponseWriter, r *http.Request, op func(context.Context) (app.CallInfo, error)) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.OperationTimeout)
	defer cancel()
	t0 := time.Now()
	info, err := op(ctx)
	serverTiming(w, t0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// partyOp runs a hold, resume, mute or unmute whose body was read, for
// party.
func (s *Server) partyOp(w http.ResponseWriter, r *http.Request, party string, op func(ctx context.Context, callID, party string) (app.CallInfo, error)) {
	if party == "" {
		writeError(w, http.StatusBadRequest, CodeUnknownParty, `"party" is required: "caller", "callee" or a channel id of the call`)
		return
	}
	s.answer(w, r, func(ctx context.Context) (app.CallInfo, error) {
		return op(ctx, r.PathValue("id"), party)
	})
}

func (s *Server) hangup(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.OperationTimeout)
	defer cancel()
	t0 := time.Now()
	info, err := s.calls.Hangup(ctx, r.PathValue("id"))
	serverTiming(w, t0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) originate(w http.ResponseWriter, r *http.Request) {
	var req OriginateRequest
	if !s.decode(w, r, &req) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.OperationTimeout)
	defer cancel()
	t0 := time.Now()
	info, err := s.calls.Originate(ctx, req.From, req.To)
	serverTiming(w, t0)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/v1/calls/"+info.CallID)
	writeJSON(w, http.StatusCreated, info)
}

// decode reads a JSON body strictly: application/json, one object, no
// unknown fields, bounded size.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "the body must be JSON (Content-Type: application/json)")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		msg := "malformed JSON body: " + err.Error()
		if errors.As(err, &tooBig) {
			msg = fmt.Sprintf("body larger than %d bytes", s.cfg.MaxBodyBytes)
		} else if errors.Is(err, io.EOF) {
			msg = "empty body: a JSON object is required"
		}
		writeError(w, http.StatusBadRequest, CodeBadRequest, msg)
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "the body must hold exactly one JSON object")
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "unexpected data after the JSON object")
		return false
	}
	return true
}

// WriteError answers err as the API answers it: the status and code its
// kind maps to (see the README's error table), the message, and
// Retry-After on 503. For handlers that wrap the API (Config.Wrap).
func WriteError(w http.ResponseWriter, err error) {
	status, code := statusOf(err)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeError(w, status, code, err.Error())
}

// WriteErrorCode answers with an ErrorBody of this status, code and
// message, for handlers that wrap the API (Config.Wrap).
func WriteErrorCode(w http.ResponseWriter, status int, code, msg string) {
	writeError(w, status, code, msg)
}

// ErrorBodyFor is the status and JSON body WriteError answers err with.
func ErrorBodyFor(err error) (int, []byte) {
	status, code := statusOf(err)
	body, _ := json.Marshal(ErrorBody{Error: ErrorDetail{Code: code, Message: err.Error()}})
	return status, body
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, code := statusOf(err)
	if status == http.StatusServiceUnavailable {
		// Overload and a reconnecting Asterisk pass quickly.
		w.Header().Set("Retry-After", "1")
	}
	if status >= 500 {
		s.log.Warn("api request failed", zap.String("method", r.Method), zap.String("path", r.URL.Path),
			zap.String("call_id", r.PathValue("id")), zap.Int("status", status), zap.Error(err))
	}
	writeError(w, status, code, err.Error())
}

// serverTiming reports how long the operation took inside ariapp, from
// the decoded request to the call's answer (Asterisk's confirmation
// included), as a Server-Timing header ("call;dur=MS"): a client subtracts
// it from what it measured to see what the HTTP hop cost, and browser
// developer tools show it.
func serverTiming(w http.ResponseWriter, t0 time.Time) {
	w.Header().Set("Server-Timing", "call;dur="+strconv.FormatFloat(float64(time.Since(t0).Microseconds())/1000, 'f', 3, 64))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: msg}})
}

// logRequests writes one line per request; never headers (the token).
func (s *Server) logRequests(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		level := zapcore.InfoLevel
		if r.URL.Path == metricsPath && rec.status == http.StatusOK {
			level = zapcore.DebugLevel // a scrape every few seconds
		}
		// Checked first: at a level that is off the fields cost nothing.
		if ce := s.log.Check(level, "api request"); ce != nil {
			ce.Write(zap.String("method", r.Method), zap.String("path", r.URL.Path),
				zap.Int("status", rec.status), zap.Duration("duration", time.Since(t0)),
				zap.String("remote", r.RemoteAddr))
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Flush lets Server-Sent Events through the recorder.
func (r *statusRecorder) Flush() { _ = r.FlushError() }

// FlushError is Flush with its error, which http.ResponseController
// reports: an event stream learns so that its client stalled.
func (r *statusRecorder) FlushError() error {
	return http.NewResponseController(r.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the connection (write
// deadlines of event streams).
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// discardWriter captures a handler's status without writing the body.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}
