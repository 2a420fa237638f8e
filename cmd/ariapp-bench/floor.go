package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/ariapp/ariapp/ari"
)

// ModeAPIFloor is the control API's floor: the baseline's bare ARI calls
// behind the smallest HTTP front end, in a process of its own like the
// ariapp binary, so the api mode's HTTP hop is measured against the
// cheapest hop that does the same.
const ModeAPIFloor = "apifloor"

// floorMode drives a child process of this bench (-serve-floor) over
// HTTP: POST /establish, /hold, /resume with the call and party in the
// query, and reads its ARI counts from GET /counts.
type floorMode struct {
	bin    string // this command's binary ("": the running one)
	cfg    ari.Config
	prefix string
	wait   time.Duration

	child
}

func newFloorMode(bin string, cfg ari.Config, prefix string, wait time.Duration) *floorMode {
	return &floorMode{bin: bin, cfg: cfg, prefix: prefix, wait: wait}
}

func (d *floorMode) start(ctx context.Context, n int) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	self := d.bin
	if self == "" {
		if self, err = os.Executable(); err != nil {
			return err
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	d.base = "http://" + addr
	cmd := exec.Command(self, "-serve-floor", addr, "-floor-calls", strconv.Itoa(n), "-floor-prefix", d.prefix,
		"-floor-app", d.cfg.Application, "-ari-url", d.cfg.URL, "-ari-user", d.cfg.Username, "-wait", d.wait.String())
	cmd.Env = append(os.Environ(), "ARIAPP_ARI_PASSWORD="+d.cfg.Password)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the floor server: %w", err)
	}
	d.cmd, d.exited = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(d.exited) }()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 4096, 4096
	d.http = &http.Client{Transport: tr}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := d.counts(ctx); err == nil {
			break
		}
		select {
		case <-d.exited:
			return errors.New("the floor server exited at start-up")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the floor server is not ready at %s within 15s", d.base)
		}
	}
	lcfg := d.cfg
	lcfg.Application = d.cfg.Application + "-lister"
	d.lister, err = ari.New(lcfg)
	return err
}

func (d *floorMode) post(ctx context.Context, path string) error {
	req, err := http.NewRequestWithContext(ctx, "POST", d.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("POST %s: status %d: %s", path, resp.StatusCode, bytes.TrimSpace(body))
	}
	return nil
}

func (d *floorMode) establish(ctx context.Context, i int) error {
	return d.post(ctx, "/establish?call="+strconv.Itoa(i))
}

func (d *floorMode) hold(ctx context.Context, i, party int) error {
	return d.post(ctx, fmt.Sprintf("/hold?call=%d&party=%d", i, party))
}

func (d *floorMode) resume(ctx context.Context, i, party int) error {
	return d.post(ctx, fmt.Sprintf("/resume?call=%d&party=%d", i, party))
}

func (d *floorMode) teardown(ctx context.Context) error {
	if d.cmd == nil {
		return nil
	}
	if err := d.post(ctx, "/teardown"); err != nil {
		forceCleanup(ctx, d.lister, []string{d.prefix})
		return err
	}
	return nil
}

// floorCounts is GET /counts: the child's ARI requests, events and drops.
type floorCounts struct {
	Requests map[string]int `json:"requests"`
	Events   uint64         `json:"events"`
	Dropped  uint64         `json:"dropped"`
}

func (d *floorMode) counts(ctx context.Context) (*floorCounts, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", d.base+"/counts", nil)
	if err != nil {
		return nil, err
	}
	resp, err := d.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var c floorCounts
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /counts: status %d", resp.StatusCode)
	}
	return &c, json.NewDecoder(resp.Body).Decode(&c)
}

func (d *floorMode) ariCounts() (map[string]int, uint64, bool) {
	c, err := d.counts(context.Background())
	if err != nil {
		return nil, 0, false
	}
	return c.Requests, c.Events, true
}

func (d *floorMode) drops() (uint64, uint64) {
	if c, err := d.counts(context.Background()); err == nil {
		return c.Dropped, 0
	}
	return 0, 0
}

func (d *floorMode) notes() map[string]int { return nil }

// serveFloor is the child of the apifloor mode: the baseline's calls, each
// operation one plain net/http handler around the baseline's ARI requests.
func serveFloor(addr string, cfg ari.Config, prefix string, n int, wait time.Duration) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = 64, 64
	tr.IdleConnTimeout = 90 * time.Second
	reqs := newCountingTransport(tr)
	cfg.HTTPClient = &http.Client{Transport: reqs}
	b := newBaseline(cfg, reqs, prefix, wait)
	if err := b.start(ctx, n); err != nil {
		return err
	}
	defer b.stop()
	call := func(w http.ResponseWriter, r *http.Request) (int, int, bool) {
		i, err1 := strconv.Atoi(r.URL.Query().Get("call"))
		p, err2 := strconv.Atoi("0" + r.URL.Query().Get("party"))
		if err1 != nil || err2 != nil || i < 0 || i >= n || p < 0 || p > 1 {
			http.Error(w, "bad call or party", http.StatusBadRequest)
			return 0, 0, false
		}
		return i, p, true
	}
	reply := func(w http.ResponseWriter, err error) {
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /establish", func(w http.ResponseWriter, r *http.Request) {
		if i, _, ok := call(w, r); ok {
			reply(w, b.establish(r.Context(), i))
		}
	})
	mux.HandleFunc("POST /hold", func(w http.ResponseWriter, r *http.Request) {
		if i, p, ok := call(w, r); ok {
			reply(w, b.hold(r.Context(), i, p))
		}
	})
	mux.HandleFunc("POST /resume", func(w http.ResponseWriter, r *http.Request) {
		if i, p, ok := call(w, r); ok {
			reply(w, b.resume(r.Context(), i, p))
		}
	})
	mux.HandleFunc("POST /teardown", func(w http.ResponseWriter, r *http.Request) {
		reply(w, b.teardown(r.Context()))
	})
	mux.HandleFunc("GET /counts", func(w http.ResponseWriter, r *http.Request) {
		var c floorCounts
		if b.client != nil {
			st := b.client.Stats()
			c.Events, c.Dropped = st.Received, st.Dropped
		}
		c.Requests = reqs.snapshot()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
