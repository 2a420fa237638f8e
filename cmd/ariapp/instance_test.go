package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

// fakeVars is Asterisk's global variables in memory. onRead, if set, runs
// before the n-th read (1-based) answers, under the lock, and may change the
// variables: another instance's heartbeat or release.
type fakeVars struct {
	mu     sync.Mutex
	vars   map[string]string
	reads  int
	writes []string
	onRead func(n int, vars map[string]string)
	err    error
}

func newFakeVars() *fakeVars { return &fakeVars{vars: map[string]string{}} }

func (f *fakeVars) GlobalVariable(ctx context.Context, name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return "", f.err
	}
	f.reads++
	if f.onRead != nil {
		f.onRead(f.reads, f.vars)
	}
	return f.vars[name], nil
}

func (f *fakeVars) SetGlobalVariable(ctx context.Context, name, value string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.writes = append(f.writes, value)
	if value == "" {
		delete(f.vars, name)
	} else {
		f.vars[name] = value
	}
	return nil
}

func (f *fakeVars) get(name string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.vars[name]
}

func TestOwnerVariable(t *testing.T) {
	t.Parallel()
	tests := []struct{ app, want string }{
		{"ariapp", "ARIAPP_OWNER_ariapp"},
		{"ariapp-test-1.x", "ARIAPP_OWNER_ariapp-test-1.x"},
		{"a_b", "ARIAPP_OWNER_a_5Fb"},
		{"a b", "ARIAPP_OWNER_a_20b"},
		{"f(x)", "ARIAPP_OWNER_f_28x_29"},
		{"é", "ARIAPP_OWNER__C3_A9"},
	}
	for _, tt := range tests {
		t.Run(tt.app, func(t *testing.T) {
			if got := ownerVariable(tt.app); got != tt.want {
				t.Errorf("ownerVariable(%q) = %q, want %q", tt.app, got, tt.want)
			}
		})
	}
	if ownerVariable("a_b") == ownerVariable("a b") {
		t.Error("distinct names share a variable")
	}
}

func TestOwnerRecordRoundTrip(t *testing.T) {
	t.Parallel()
	r := ownerRecord{Instance: "host:12:ab", API: "127.0.0.1:8090", Every: 1500 * time.Millisecond, Seq: 42}
	got, err := parseOwnerRecord(r.encode())
	if err != nil || got != r {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, r)
	}
	for _, bad := range []string{"", "x", "instance=a&every=2s", "instance=a&every=0s&seq=1", "instance=a&every=zz&seq=1",
		"every=2s&seq=1", "instance=a&every=2s&seq=-1", "%zz"} {
		if _, err := parseOwnerRecord(bad); err == nil {
			t.Errorf("parseOwnerRecord(%q) accepted", bad)
		}
	}
}

// TestInstanceSettings: the instance keys come through the config like
// every other key, with the environment names the refusal line tells.
func TestInstanceSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		env          map[string]string
		wantTakeover bool
		wantEvery    time.Duration
		wantErr      string
	}{
		{name: "defaults", wantEvery: defaultHeartbeat},
		{name: "takeover", env: map[string]string{takeoverEnv: "1"}, wantTakeover: true, wantEvery: defaultHeartbeat},
		{name: "takeover false", env: map[string]string{takeoverEnv: "false"}, wantEvery: defaultHeartbeat},
		{name: "heartbeat", env: map[string]string{heartbeatEnv: "250ms"}, wantEvery: 250 * time.Millisecond},
		{name: "bad takeover", env: map[string]string{takeoverEnv: "sure"}, wantErr: "instance.takeover"},
		{name: "bad heartbeat", env: map[string]string{heartbeatEnv: "often"}, wantErr: "instance.heartbeat"},
		{name: "too short heartbeat", env: map[string]string{heartbeatEnv: "1ms"}, wantErr: "instance.heartbeat"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := loadConfig(nil, env(withPassword(tt.env)))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || c.Instance.Takeover != tt.wantTakeover || c.Instance.Heartbeat != tt.wantEvery {
				t.Fatalf("= %+v, %v; want %v, %v", c.Instance, err, tt.wantTakeover, tt.wantEvery)
			}
		})
	}
}

// TestInstanceGuardCheck: who may start when a record is found.
func TestInstanceGuardCheck(t *testing.T) {
	t.Parallel()
	const app = "ariapp"
	name := ownerVariable(app)
	other := ownerRecord{Instance: "other:1:aa", API: "127.0.0.1:8090", Every: 200 * time.Millisecond, Seq: 7}
	rewritten := other
	rewritten.Seq++
	tests := []struct {
		name     string
		record   string // "" for none
		onRead   func(n int, vars map[string]string)
		takeover bool
		wantErr  bool          // an *InUseError
		minWait  time.Duration // Check must not answer sooner
		maxWait  time.Duration
	}{
		{name: "no record", maxWait: 150 * time.Millisecond},
		{name: "unreadable record", record: "garbage", maxWait: 150 * time.Millisecond},
		{name: "live owner rewrites", record: other.encode(), wantErr: true, maxWait: silentAfter(other.Every),
			onRead: func(n int, vars map[string]string) {
				if n == 3 {
					vars[name] = rewritten.encode()
				}
			}},
		{name: "another instance claims meanwhile", record: other.encode(), wantErr: true, maxWait: silentAfter(other.Every),
			onRead: func(n int, vars map[string]string) {
				if n == 2 {
					vars[name] = ownerRecord{Instance: "third:3:cc", Every: time.Second, Seq: 1}.encode()
				}
			}},
		{name: "silent owner is dead", record: other.encode(), minWait: silentAfter(other.Every), maxWait: silentAfter(other.Every) + time.Second},
		{name: "owner releases while watched", record: other.encode(), maxWait: silentAfter(other.Every) / 2,
			onRead: func(n int, vars map[string]string) {
				if n == 2 {
					delete(vars, name)
				}
			}},
		{name: "takeover does not wait", record: other.encode(), takeover: true, maxWait: 150 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeVars()
			if tt.record != "" {
				f.vars[name] = tt.record
			}
			f.onRead = tt.onRead
			g := newInstanceGuard(f, app, "127.0.0.1:8091", time.Second, time.Second, zap.NewNop())
			start := time.Now()
			err := g.Check(context.Background(), tt.takeover)
			took := time.Since(start)
			var inUse *InUseError
			if tt.wantErr != errors.As(err, &inUse) || (!tt.wantErr && err != nil) {
				t.Fatalf("Check = %v, want in-use error %v", err, tt.wantErr)
			}
			if took < tt.minWait || took > tt.maxWait {
				t.Errorf("Check took %v, want between %v and %v", took, tt.minWait, tt.maxWait)
			}
			if len(f.writes) != 0 {
				t.Errorf("Check wrote %q", f.writes)
			}
			if tt.wantErr {
				if !errors.Is(err, errInUse) {
					t.Errorf("%v does not wrap errInUse", err)
				}
				msg := err.Error()
				for _, want := range []string{`"ariapp"`, inUse.Owner.Instance, takeoverEnv + "=1"} {
					if !strings.Contains(msg, want) {
						t.Errorf("message %q lacks %q", msg, want)
					}
				}
			}
		})
	}
}

func TestInstanceGuardCheckReadError(t *testing.T) {
	t.Parallel()
	f := newFakeVars()
	f.err = errors.New("asterisk said no")
	g := newInstanceGuard(f, "ariapp", "", time.Second, time.Second, zap.NewNop())
	if err := g.Check(context.Background(), false); !errors.Is(err, f.err) {
		t.Fatalf("Check = %v, want the read error", err)
	}
}

// TestInstanceGuardClaimRelease: the record is rewritten with a growing
// sequence while claimed, the heartbeat stops when the application is lost,
// and Release removes only this instance's record.
func TestInstanceGuardClaimRelease(t *testing.T) {
	t.Parallel()
	seq := func(t *testing.T, v string) uint64 {
		t.Helper()
		r, err := parseOwnerRecord(v)
		if err != nil {
			t.Fatal(err)
		}
		return r.Seq
	}
	t.Run("heartbeat then release", func(t *testing.T) {
		t.Parallel()
		f := newFakeVars()
		g := newInstanceGuard(f, "ariapp", "127.0.0.1:8090", 10*time.Millisecond, time.Second, zap.NewNop())
		if err := g.Claim(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		name := ownerVariable("ariapp")
		first := seq(t, f.get(name))
		deadline := time.Now().Add(5 * time.Second)
		for seq(t, f.get(name)) < first+3 {
			if time.Now().After(deadline) {
				t.Fatalf("record not rewritten: %q", f.get(name))
			}
			time.Sleep(5 * time.Millisecond)
		}
		r, _ := parseOwnerRecord(f.get(name))
		if r.Instance != g.self.Instance || r.API != "127.0.0.1:8090" || r.Every != 10*time.Millisecond {
			t.Errorf("record %+v", r)
		}
		g.Release(context.Background())
		if v := f.get(name); v != "" {
			t.Errorf("record %q left after Release", v)
		}
	})
	t.Run("lost application stops the heartbeat; the new owner's record stays", func(t *testing.T) {
		t.Parallel()
		f := newFakeVars()
		g := newInstanceGuard(f, "ariapp", "", 10*time.Millisecond, time.Second, zap.NewNop())
		lost := make(chan struct{})
		if err := g.Claim(context.Background(), lost); err != nil {
			t.Fatal(err)
		}
		close(lost)
		<-g.done
		name := ownerVariable("ariapp")
		theirs := ownerRecord{Instance: "new:2:bb", Every: time.Second, Seq: 1}.encode()
		if err := f.SetGlobalVariable(context.Background(), name, theirs); err != nil {
			t.Fatal(err)
		}
		g.Release(context.Background())
		if v := f.get(name); v != theirs {
			t.Errorf("record %q, want the new owner's %q", v, theirs)
		}
	})
}

// fakeAsterisk answers what run asks before connecting: /asterisk/info, and
// the owner variable as a live owner rewriting it on every read. It records
// the paths asked for.
func fakeAsterisk(t *testing.T) (url string, paths func() []string) {
	t.Helper()
	var mu sync.Mutex
	var seen []string
	var seq uint64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Path)
		seq++
		n := seq
		mu.Unlock()
		switch r.URL.Path {
		case "/ari/asterisk/info":
			fmt.Fprint(w, `{"system":{"version":"22.0.0","entity_id":"fake"}}`)
		case "/ari/asterisk/variable":
			live := ownerRecord{Instance: "live:1:aa", API: "127.0.0.1:8090", Every: 20 * time.Millisecond, Seq: n}
			fmt.Fprintf(w, `{"value":%q}`, live.encode())
		default:
			http.Error(w, `{"message":"not in this fake"}`, http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/ari", func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// TestRunStartupOrder: a taken API port ends ariapp before it sends
// anything to Asterisk, and a live owner makes it refuse before it opens the
// event WebSocket (which would take the application).
func TestRunStartupOrder(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() }) // after the parallel subtests
	tests := []struct {
		name     string
		listen   string
		wantLine string
		wantNone string // a path prefix Asterisk must not have been asked for
	}{
		{name: "API port taken", listen: taken.Addr().String(), wantLine: "cannot listen on " + taken.Addr().String(), wantNone: "/"},
		{name: "live owner", listen: "127.0.0.1:0", wantLine: "is in use by a running ariapp (instance live:1:aa", wantNone: "/ari/events"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url, paths := fakeAsterisk(t)
			var stdout, stderr strings.Builder
			e := withPassword(map[string]string{"ARIAPP_ARI_URL": url, "ARIAPP_API_LISTEN": tt.listen})
			if code := run(context.Background(), nil, env(e), &stdout, &stderr); code != exitRuntime {
				t.Fatalf("exit status %d, want %d: %s", code, exitRuntime, stderr.String())
			}
			if got := plainLines(stderr.String()); !strings.Contains(got, tt.wantLine) || strings.Count(got, "\n") != 1 {
				t.Errorf("want one line with %q, got %q", tt.wantLine, got)
			}
			for _, p := range paths() {
				if strings.HasPrefix(p, tt.wantNone) {
					t.Errorf("asked Asterisk for %s", p)
				}
			}
		})
	}
}
