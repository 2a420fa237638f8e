package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strconv"

	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/ariapp/ariapp/ari"
)

// apiMode runs the real ariapp binary as a child process with its own
// Stasis application and drives it over the control API: POST /v1/calls
// sets a call up, POST /v1/calls/{id}/hold and /unhold are timed from the
// request to the 200 reply (ariapp replies once Asterisk confirmed the
// step). An event stream (GET /v1/events) stays open for the whole run, as
// a UI's would, and tells when a call is answered.
type apiMode struct {
	bin   string
	cfg   ari.Config // ARI of the lab; Application is the child's
	pprof string     // the child's debug.pprof_listen ("": none)
	wait  time.Duration
	env   []string // more of the child's environment (ARIAPP_HOLD_MEDIA=...)

	child
	watch   *callWatch
	stopSSE context.CancelFunc
	sseDone chan struct{}
	ids     []string

	mu       sync.Mutex
	inside   map[string][]time.Duration // Server-Timing of each hold and unhold, by op
	logs     map[string]int             // child's warn/error lines, by level and message
	ariDrops uint64                     // dropped_total of the child's ARI client
	sseLost  uint64                     // events the child's hub dropped for our stream
	stderr   []string                   // non-JSON stderr lines (start-up failures)
	requests map[string][]time.Duration // the child's ARI requests by "METHOD route", when it logs them
}

func newAPIMode(bin string, cfg ari.Config, wait time.Duration) *apiMode {
	return &apiMode{bin: bin, cfg: cfg, wait: wait, logs: map[string]int{}}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func (d *apiMode) start(ctx context.Context, n int) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	d.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	dir, err := os.MkdirTemp("", "ariapp-bench-api-")
	if err != nil {
		return err
	}
	// No config.yaml in its working directory: ariapp runs on its defaults.
	cmd := exec.Command(d.bin)
	cmd.Dir = dir
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"ARIAPP_ARI_URL=" + d.cfg.URL,
		"ARIAPP_ARI_USERNAME=" + d.cfg.Username,
		"ARIAPP_ARI_PASSWORD=" + d.cfg.Password,
		"ARIAPP_ARI_APPLICATION=" + d.cfg.Application,
		fmt.Sprintf("ARIAPP_API_LISTEN=127.0.0.1:%d", port),
		"ARIAPP_LOG_LEVEL=warn",
	}
	if d.pprof != "" {
		cmd.Env = append(cmd.Env, "ARIAPP_DEBUG_PPROF_LISTEN="+d.pprof)
	}
	cmd.Env = append(cmd.Env, d.env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", d.bin, err)
	}
	d.cmd = cmd
	d.exited = make(chan struct{})
	logsDone := make(chan struct{})
	go func() {
		defer close(logsDone)
		d.readLogs(stderr)
	}()
	go func() {
		<-logsDone
		_ = cmd.Wait()
		_ = os.RemoveAll(dir)
		close(d.exited)
	}()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 4096
	tr.MaxIdleConnsPerHost = 4096
	d.http = &http.Client{Transport: tr}
	if err := d.waitReady(ctx); err != nil {
		return err
	}
	lcfg := d.cfg
	lcfg.Application = d.cfg.Application + "-lister"
	if d.lister, err = ari.New(lcfg); err != nil {
		return err
	}
	d.watch = newCallWatch()
	if err := d.openEvents(ctx); err != nil {
		return err
	}
	d.ids = make([]string, n)
	return nil
}

// readLogs counts the child's warn and error lines (it runs at level warn,
// so every line is one) and takes the ARI client's drop counter from them.
func (d *apiMode) readLogs(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var rec struct {
			Level        string `json:"level"`
			Msg          string `json:"msg"`
			DroppedTotal uint64 `json:"dropped_total"`
			Method       string `json:"method"`
			Route        string `json:"route"`
			Took         string `json:"took"` // a Go duration, "1.2ms"
		}
		d.mu.Lock()
		if json.Unmarshal(line, &rec) != nil || rec.Msg == "" {
			if len(d.stderr) < 20 {
				d.stderr = append(d.stderr, string(line))
			}
		} else if rec.Msg == "ari request" {
			if d.requests == nil {
				d.requests = map[string][]time.Duration{}
			}
			if took, err := time.ParseDuration(rec.Took); err == nil {
				k := rec.Method + " " + rec.Route
				d.requests[k] = append(d.requests[k], took)
			}
		} else {
			d.logs[rec.Level+": "+rec.Msg]++
			if strings.HasPrefix(rec.Msg, "ari: event queue full") && rec.DroppedTotal > d.ariDrops {
				d.ariDrops = rec.DroppedTotal
			}
		}
		d.mu.Unlock()
	}
}

func (d *apiMode) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(15 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", d.base+"/readyz", nil)
		resp, err := d.http.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-d.exited:
			d.mu.Lock()
			defer d.mu.Unlock()
			return fmt.Errorf("ariapp exited at start-up: %s", strings.Join(d.stderr, " | "))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ariapp not ready at %s within 15s", d.base)
		}
	}
}

// openEvents subscribes to every call's events (Server-Sent Events). Only
// the "event:" and "id: CALL_ID:SEQ" lines are read; the JSON is not
// decoded, so the load generator stays cheap.
func (d *apiMode) openEvents(ctx context.Context) error {
	sctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(sctx, "GET", d.base+"/v1/events", nil)
	resp, err := d.http.Do(req)
	if err != nil {
		cancel()
		return fmt.Errorf("GET /v1/events: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		return fmt.Errorf("GET /v1/events: status %d", resp.StatusCode)
	}
	d.stopSSE = cancel
	d.sseDone = make(chan struct{})
	go func() {
		defer close(d.sseDone)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var name, callID, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				switch name {
				case "":
				case "lost":
					var l struct{ Dropped uint64 }
					_ = json.Unmarshal([]byte(data), &l)
					d.mu.Lock()
					d.sseLost += l.Dropped
					d.mu.Unlock()
				default:
					reason := ""
					if name == "call_ended" {
						var e struct{ Reason string }
						_ = json.Unmarshal([]byte(data), &e)
						reason = e.Reason
					}
					d.watch.event(name, callID, reason)
				}
				name, callID, data = "", "", ""
			case strings.HasPrefix(line, "event: "):
				name = line[len("event: "):]
			case strings.HasPrefix(line, "id: "):
				id := line[len("id: "):]
				if i := strings.LastIndexByte(id, ':'); i > 0 {
					id = id[:i]
				}
				callID = id
			case strings.HasPrefix(line, "data: ") && (name == "lost" || name == "call_ended"):
				data = line[len("data: "):]
			}
		}
	}()
	return nil
}

// do sends a JSON request and returns the reply's status and body.
func (d *apiMode) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	status, data, _, err := d.doHdr(ctx, method, path, body)
	return status, data, err
}

// doHdr is do that also returns the reply's header.
func (d *apiMode) doHdr(ctx context.Context, method, path string, body any) (int, []byte, http.Header, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, d.base+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, data, resp.Header, err
}

func (d *apiMode) establish(ctx context.Context, i int) error {
	status, body, err := d.do(ctx, "POST", "/v1/calls", map[string]string{"from": farEndpoint, "to": farEndpoint})
	if err != nil {
		return fmt.Errorf("POST /v1/calls: %w", err)
	}
	if status != http.StatusCreated {
		return fmt.Errorf("POST /v1/calls: status %d: %s", status, bytes.TrimSpace(body))
	}
	var info struct {
		CallID string `json:"call_id"`
	}
	if err := json.Unmarshal(body, &info); err != nil || info.CallID == "" {
		return fmt.Errorf("POST /v1/calls: reply without call_id: %s", body)
	}
	d.ids[i] = info.CallID
	return d.watch.waitAnswered(ctx, info.CallID, d.wait)
}

func (d *apiMode) partyOp(ctx context.Context, i, party int, op string) error {
	path := "/v1/calls/" + d.ids[i] + "/" + op
	status, body, hdr, err := d.doHdr(ctx, "POST", path, map[string]string{"party": partyNames[party]})
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("POST %s: status %d: %s", path, status, bytes.TrimSpace(body))
	}
	if dur, ok := parseServerTiming(hdr.Get("Server-Timing")); ok {
		d.mu.Lock()
		if d.inside == nil {
			d.inside = map[string][]time.Duration{}
		}
		d.inside[op] = append(d.inside[op], dur)
		d.mu.Unlock()
	}
	return nil
}

// insideTimes returns, and forgets, the time each hold and resume took
// inside ariapp by its Server-Timing header: the client's time less this
// is the HTTP hop.
func (d *apiMode) insideTimes() (holds, resumes []time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	holds, resumes = d.inside["hold"], d.inside["unhold"]
	d.inside = nil
	return holds, resumes
}

// parseServerTiming reads ariapp's "call;dur=MS".
func parseServerTiming(h string) (time.Duration, bool) {
	ms, ok := strings.CutPrefix(h, "call;dur=")
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(ms, 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(v * float64(time.Millisecond)), true
}

func (d *apiMode) hold(ctx context.Context, i, party int) error {
	return d.partyOp(ctx, i, party, "hold")
}

func (d *apiMode) resume(ctx context.Context, i, party int) error {
	return d.partyOp(ctx, i, party, "unhold")
}

func (d *apiMode) teardown(ctx context.Context) error {
	if d.cmd == nil || d.ids == nil {
		return nil
	}
	prefixes := callIDs(d.ids)
	errs := forEach(prefixes, 16, func(id string) error {
		status, body, err := d.do(ctx, "DELETE", "/v1/calls/"+id, nil)
		if err == nil && status != http.StatusOK && status != http.StatusNotFound && status != http.StatusConflict {
			err = fmt.Errorf("DELETE /v1/calls/%s: status %d: %s", id, status, bytes.TrimSpace(body))
		}
		return err
	})
	if len(errs) > 0 {
		forceCleanup(ctx, d.lister, prefixes)
		return fmt.Errorf("api teardown: %d hang-ups failed, first: %w", len(errs), errs[0])
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body, err := d.do(ctx, "GET", "/v1/calls", nil)
		if err != nil {
			return fmt.Errorf("GET /v1/calls: %w", err)
		}
		var list struct {
			Calls []json.RawMessage `json:"calls"`
		}
		if status == http.StatusOK && json.Unmarshal(body, &list) == nil && len(list.Calls) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("api teardown: ariapp still lists %d calls", len(list.Calls))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := waitNoLeftovers(ctx, d.lister, prefixes, 15*time.Second); err != nil {
		forceCleanup(ctx, d.lister, prefixes)
		return err
	}
	return nil
}

func (d *apiMode) ariCounts() (map[string]int, uint64, bool) { return nil, 0, false }

func (d *apiMode) drops() (uint64, uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ariDrops, d.sseLost
}

func (d *apiMode) notes() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]int, len(d.logs))
	for k, v := range d.logs {
		out[k] = v
	}
	return out
}

// stop closes the event stream, then stops the child.
func (d *apiMode) stop() {
	if d.stopSSE != nil {
		d.stopSSE()
		<-d.sseDone
	}
	d.child.stop()
}

// buildAriapp builds the ariapp binary into dir and returns its path.
func buildAriapp(ctx context.Context, dir string) (string, error) {
	bin := dir + "/ariapp"
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/ariapp/ariapp/cmd/ariapp")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/ariapp: %w: %s", err, bytes.TrimSpace(out))
	}
	return bin, nil
}

// ariRequests returns, and forgets, the durations of the child's ARI
// requests it logged (ARIAPP_LOG_ARI_REQUESTS=info), by method and route.
func (d *apiMode) ariRequests() map[string][]time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	r := d.requests
	d.requests = nil
	return r
}
