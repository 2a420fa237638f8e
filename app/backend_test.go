package app_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/fakeasterisk"
	"github.com/ariapp/ariapp/internal/labtest"
)

// backend is an Asterisk the SPEC rule table runs against: the in-process
// fake (always) or the lab (when it runs; see labtest.Require).
type backend interface {
	name() string
	// connect opens an ARI connection of application appName ("": a fresh
	// application, i.e. a fresh Asterisk for the fake). A cuttable
	// connection can be dropped and restored (conn.cut, conn.restore).
	connect(t *testing.T, appName string, cuttable bool) *conn
	// control is a client of the same Asterisk for the test's own
	// requests, outside any App.
	control(t *testing.T, appName string) testARI
	// placeCall makes a phone call into the application as the lab's
	// dialplan does with Local/dial-TARGET@ariapp-test: callerID enters
	// Stasis with dial,Local/TARGET@ariapp-test; phoneID is its far end,
	// running extension phoneExten of the test context with vars.
	placeCall(t *testing.T, c *conn, target, phoneExten string, vars map[string]string, phoneID, callerID string) error
}

// testARI is what the rule tests ask of an Asterisk directly.
type testARI interface {
	app.ARI
	Bridge(ctx context.Context, bridgeID string) (*ari.Bridge, error)
	Channel(ctx context.Context, channelID string) (*ari.Channel, error)
}

var (
	_ testARI = (*ari.Client)(nil)
	_ testARI = (*fakeasterisk.Asterisk)(nil)
	_ testARI = (*fakeasterisk.Client)(nil)
)

// conn is one App's connection to a backend.
type conn struct {
	rest      testARI
	events    <-chan ari.Event
	close     func()
	connected func() bool
	connects  func() int
	dropped   func() uint64
	// cut drops the event connection and makes REST unreachable until
	// restore; set for cuttable connections.
	cut, restore func()
	// fake is the fake Asterisk, nil on the lab: for fault injection and
	// phone actions the lab cannot do without SIP.
	fake *fakeasterisk.Asterisk
}

// labBackend is the real Asterisk of lab/lab.sh.
type labBackend struct{}

func (labBackend) name() string { return "lab" }

func (labBackend) connect(t *testing.T, appName string, cuttable bool) *conn {
	t.Helper()
	cfg := labtest.Require(t)
	if appName != "" {
		cfg.Application = appName
	}
	var proxy *labtest.Proxy
	if cuttable {
		proxy = labtest.NewProxy(t, "127.0.0.1:8088")
		cfg.URL = "http://" + proxy.Addr() + "/ari"
		cfg.ReconnectMin, cfg.ReconnectMax = 50*time.Millisecond, 200*time.Millisecond
	}
	client, err := ari.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Connect(ctx); err != nil {
		client.Close()
		t.Fatalf("connect: %v", err)
	}
	c := &conn{
		rest:      client,
		events:    client.Events(),
		close:     func() { client.Close() },
		connected: client.Connected,
		connects:  func() int { return int(client.Stats().Connects) },
		dropped:   func() uint64 { return client.Stats().Dropped },
	}
	if proxy != nil {
		c.cut, c.restore = func() { proxy.Cut(true) }, proxy.Restore
	}
	return c
}

func (labBackend) control(t *testing.T, _ string) testARI {
	t.Helper()
	c, err := ari.New(labtest.Config(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (labBackend) placeCall(t *testing.T, c *conn, target, phoneExten string, vars map[string]string, phone, caller string) error {
	v := map[string]string{"_ARIAPP_TEST_APP": c.rest.Application()}
	for k, val := range vars {
		v[k] = val
	}
	_, err := c.rest.Originate(ctxT(t), ari.OriginateParams{
		Endpoint:       "Local/dial-" + target + "@" + labtest.TestContext,
		ChannelID:      phone,
		OtherChannelID: caller,
		Extension:      phoneExten,
		Context:        labtest.TestContext,
		Priority:       1,
		Formats:        "ulaw",
		Variables:      v,
	})
	return err
}

// fakeBackend runs each test against fresh in-process fakes, one per
// application name, so a second App on the same name is a restarted
// ariapp on the same Asterisk.
type fakeBackend struct {
	mu    sync.Mutex
	fakes map[string]*fakeasterisk.Asterisk
	// before2210: an Asterisk without bulk or reported variables.
	before2210 bool
}

func newFakeBackend() *fakeBackend { return &fakeBackend{fakes: map[string]*fakeasterisk.Asterisk{}} }

// newOldFakeBackend is the fake as an Asterisk before 22.10.
func newOldFakeBackend() *fakeBackend {
	return &fakeBackend{fakes: map[string]*fakeasterisk.Asterisk{}, before2210: true}
}

func (b *fakeBackend) name() string {
	if b.before2210 {
		return "fake-before-22.10"
	}
	return "fake"
}

func (b *fakeBackend) asterisk(t *testing.T, appName string) *fakeasterisk.Asterisk {
	b.mu.Lock()
	defer b.mu.Unlock()
	if fa := b.fakes[appName]; fa != nil {
		return fa
	}
	if appName == "" {
		appName = "ariapp-fake-" + labtest.ID()
	}
	fa := fakeasterisk.New(fakeasterisk.Config{Application: appName, Before2210: b.before2210})
	b.fakes[appName] = fa
	t.Cleanup(func() {
		fa.Close()
		b.mu.Lock()
		delete(b.fakes, appName)
		b.mu.Unlock()
	})
	return fa
}

func (b *fakeBackend) connect(t *testing.T, appName string, cuttable bool) *conn {
	fa := b.asterisk(t, appName)
	fc := fa.Connect()
	c := &conn{
		rest:      fc.Client(),
		events:    fc.Events(),
		close:     fc.Close,
		connected: fc.Connected,
		connects:  fc.Connects,
		dropped:   func() uint64 { return 0 },
		fake:      fa,
	}
	if cuttable {
		c.cut, c.restore = fa.Disconnect, fa.Reconnect
	}
	return c
}

func (b *fakeBackend) control(t *testing.T, appName string) testARI { return b.asterisk(t, appName) }

func (b *fakeBackend) placeCall(_ *testing.T, c *conn, target, phoneExten string, vars map[string]string, phone, caller string) error {
	p := fakeasterisk.CallParams{
		Endpoint:  "Local/dial-" + target + "@" + labtest.TestContext,
		Args:      []string{app.ArgDial, "Local/" + target + "@" + labtest.TestContext},
		ChannelID: caller,
		PhoneID:   phone,
		Variables: vars,
	}
	if phoneExten == "keys" {
		// The lab's keys extension: two groups of digits from variables.
		p.Keys = []string{vars["ARIAPP_TEST_KEYS1"], vars["ARIAPP_TEST_KEYS2"]}
	}
	_, err := c.fake.Call(p)
	return err
}
