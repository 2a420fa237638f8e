package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap/zaptest"

	"github.com/ariapp/ariapp/api"
	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/holdmusic"
	"github.com/ariapp/ariapp/internal/labtest"
	"github.com/ariapp/ariapp/internal/sipphone"
)

// The lab phones and the frequency each one sends.
const (
	aliceHz = 700
	bobHz   = 1300
	// holdHz is the hold tone these tests configure: 440 Hz, 300 ms on,
	// 200 ms off, so a short window always contains some of it.
	holdHz   = 440
	holdTone = "440/300|0/200"
)

// latencies collects the measured delays for the closing summary.
var latencies = struct {
	sync.Mutex
	hold, resume []time.Duration
}{}

func TestMain(m *testing.M) {
	code := m.Run()
	latencies.Lock()
	if len(latencies.hold) > 0 {
		fmt.Printf("e2e: re-INVITE hold -> first hold-tone packet at the peer: median %v over %d (min %v, max %v)\n",
			median(latencies.hold), len(latencies.hold), slices.Min(latencies.hold), slices.Max(latencies.hold))
	}
	if len(latencies.resume) > 0 {
		fmt.Printf("e2e: re-INVITE resume -> peer hears the holder again: median %v over %d (min %v, max %v)\n",
			median(latencies.resume), len(latencies.resume), slices.Min(latencies.resume), slices.Max(latencies.resume))
	}
	latencies.Unlock()
	clusterSummary()
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreTopFunction("internal/poll.runtime_pollWait")); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// lab is ariapp (in process, Stasis application "ariapp" as the lab
// dialplan names it, control API over HTTP) and the phones alice and bob.
type lab struct {
	t      *testing.T
	cfg    app.Config // the App's, for restart
	client *ari.Client
	app    *app.App
	srv    *httptest.Server
	alice  *sipphone.Phone
	bob    *sipphone.Phone
	events *labtest.Log[app.Event]
}

func newLab(t *testing.T, opts ...func(*app.Config)) *lab {
	t.Helper()
	cfg := labtest.Require(t)
	labtest.LockPhones(t)      // the phones' ports and the name "ariapp" are shared
	cfg.Application = "ariapp" // the lab dialplan's Stasis(ariapp,...)
	client, err := ari.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	acfg := app.Config{
		AnswerTimeout: 10 * time.Second,
		Music:         holdmusic.Config{Mode: holdmusic.ModeTone, Tone: holdTone},
		DTMF:          app.DTMFConfig{Hold: "*7", Resume: "*8"},
	}
	for _, o := range opts {
		o(&acfg)
	}
	a, err := app.New(acfg, client, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Connect(ctx); err != nil {
		t.Fatalf("connect as application ariapp (is another ariapp running?): %v", err)
	}
	a.Start(client.Events())
	l := &lab{t: t, cfg: acfg, client: client, app: a, events: labtest.NewLog[app.Event]()}
	l.srv = httptest.NewServer(api.New(api.Config{}, a, nil, zaptest.NewLogger(t)).Handler())
	l.alice = l.phone("alice", "127.0.0.1:5071", aliceHz)
	l.bob = l.phone("bob", "127.0.0.1:5072", bobHz)
	l.stream()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		l.app.HangupAll(ctx)
		l.srv.CloseClientConnections()
		l.srv.Close()
		l.app.Close()
		l.client.Close()
	})
	return l
}

// restart replaces ariapp the way a killed process does (nothing is hung
// up, the event connection goes away) by a new one with the same
// configuration, which adopts the calls from Asterisk; the control API
// and the event stream come from the new one.
func (l *lab) restart() {
	l.t.Helper()
	l.srv.CloseClientConnections()
	l.srv.Close()
	l.app.Close()
	l.client.Close()
	cfg := labtest.Require(l.t)
	cfg.Application = "ariapp"
	client, err := ari.New(cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	a, err := app.New(l.cfg, client, zaptest.NewLogger(l.t))
	if err != nil {
		l.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.Connect(ctx); err != nil {
		l.t.Fatalf("reconnect as application ariapp: %v", err)
	}
	a.Start(client.Events())
	l.client, l.app = client, a
	l.srv = httptest.NewServer(api.New(api.Config{}, a, nil, zaptest.NewLogger(l.t)).Handler())
	l.events = labtest.NewLog[app.Event]()
	l.stream()
}

func (l *lab) phone(user, addr string, hz float64) *sipphone.Phone {
	l.t.Helper()
	p, err := sipphone.New(context.Background(), sipphone.Config{User: user, SIPAddr: addr, Server: "127.0.0.1:5060", ToneHz: hz})
	if err != nil {
		l.t.Fatalf("phone %s: %v", user, err)
	}
	l.t.Cleanup(func() { _ = p.Close() })
	return p
}

// stream reads the API's Server-Sent Events for the whole test (until a
// restart, which opens the next ariapp's stream into a new log).
func (l *lab) stream() {
	events := l.events
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", l.srv.URL+"/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer events.Close()
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var ev app.Event
				if json.Unmarshal([]byte(data), &ev) == nil {
					events.Add(ev)
				}
			}
		}
	}()
	l.t.Cleanup(func() { cancel(); <-done })
}

func (l *lab) wait(callID string, name app.EventName, n int) app.Event {
	l.t.Helper()
	var found app.Event
	if _, ok := l.events.Until(15*time.Second, func(evs []app.Event) bool {
		seen := 0
		for _, e := range evs {
			if (callID == "" || e.CallID == callID) && e.Name == name {
				if seen++; seen == n {
					found = e
					return true
				}
			}
		}
		return false
	}); !ok {
		l.t.Fatalf("no %s #%d of call %s on the event stream; got %v", name, n, callID, l.names(callID))
	}
	return found
}

func (l *lab) names(callID string) []app.EventName {
	var out []app.EventName
	for _, e := range l.events.All() {
		if e.CallID == callID {
			out = append(out, e.Name)
		}
	}
	return out
}

func (l *lab) expectSequence(callID string, want ...app.EventName) {
	l.t.Helper()
	l.events.Until(5*time.Second, func([]app.Event) bool { return len(l.names(callID)) >= len(want) })
	// A quiet period catches a surplus event: none announces its absence.
	time.Sleep(50 * time.Millisecond)
	if got := l.names(callID); !slices.Equal(got, want) {
		l.t.Fatalf("event stream of call %s: %v, want %v", callID, got, want)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// call: alice dials bob, bob answers; both phones are in the call and the
// call is answered on the event stream.
func (l *lab) call() (callID string, ac, bc *sipphone.Call) {
	l.t.Helper()
	type res struct {
		c   *sipphone.Call
		err error
	}
	dialed := make(chan res, 1)
	go func() {
		c, err := l.alice.Dial(ctxT(l.t), "bob")
		dialed <- res{c, err}
	}()
	bc, err := l.bob.Incoming(ctxT(l.t))
	if err != nil {
		l.t.Fatalf("bob: no incoming call: %v", err)
	}
	if err := bc.Answer(ctxT(l.t)); err != nil {
		l.t.Fatalf("bob answers: %v", err)
	}
	r := <-dialed
	if r.err != nil {
		l.t.Fatalf("alice dials bob: %v", r.err)
	}
	ev := l.wait("", app.EventCallAnswered, 1)
	if ev.Call.Caller.Endpoint != "PJSIP/alice" || ev.Call.Callee.Endpoint != "PJSIP/bob" {
		l.t.Fatalf("call endpoints: %+v", ev.Call)
	}
	// Both hear each other before anything else happens.
	l.hearsWithin(r.c, bobHz, "alice hears bob")
	l.hearsWithin(bc, aliceHz, "bob hears alice")
	return ev.CallID, r.c, bc
}

// hearsWithin waits until the call receives hz, and returns when.
func (l *lab) hearsWithin(c *sipphone.Call, hz float64, what string) time.Time {
	l.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	at, err := c.Audio().WaitHeard(ctx, time.Now().Add(-20*time.Millisecond), hz)
	if err != nil {
		l.t.Fatalf("%s (%v Hz): %v", what, hz, err)
	}
	return at
}

// audio describes what a call received in [from, to).
func audio(c *sipphone.Call, from, to time.Time) string {
	pk := c.Audio().Packets(from, to)
	return fmt.Sprintf("%d packets: alice %.2f bob %.2f hold-tone %.2f", len(pk),
		c.Audio().Hears(from, to, aliceHz), c.Audio().Hears(from, to, bobHz), c.Audio().Hears(from, to, holdHz))
}

// expectHeld checks a held party's audio in a window: the hold tone, never
// its holder, and nothing but the tone and silence (no music on hold of
// Asterisk's own on top).
func (l *lab) expectHeld(held *sipphone.Call, holderHz float64, from, to time.Time) {
	l.t.Helper()
	r := held.Audio()
	if f := r.Hears(from, to, holdHz); f < 0.2 {
		l.t.Errorf("held party hears the hold tone in only %.0f%% of packets (%s)", 100*f, audio(held, from, to))
	}
	if f := r.Hears(from, to, holderHz); f > 0.02 {
		l.t.Errorf("held party still hears its holder in %.0f%% of packets (%s)", 100*f, audio(held, from, to))
	}
	other := 0
	pk := r.Packets(from, to)
	for _, p := range pk {
		if p.PT == 0 && sipphone.RMS(p.PCM) >= sipphone.SilenceRMS && !sipphone.Present(p.PCM, holdHz) {
			other++
		}
	}
	if len(pk) > 0 && float64(other)/float64(len(pk)) > 0.1 {
		l.t.Errorf("held party hears something other than the hold tone or silence in %d of %d packets (Asterisk's music on hold?)", other, len(pk))
	}
}

// expectTalking checks that both parties hear each other in a window.
func (l *lab) expectTalking(ac, bc *sipphone.Call, from, to time.Time) {
	l.t.Helper()
	if f := ac.Audio().Hears(from, to, bobHz); f < 0.8 {
		l.t.Errorf("alice hears bob in only %.0f%% of packets (%s)", 100*f, audio(ac, from, to))
	}
	if f := bc.Audio().Hears(from, to, aliceHz); f < 0.8 {
		l.t.Errorf("bob hears alice in only %.0f%% of packets (%s)", 100*f, audio(bc, from, to))
	}
}

func (l *lab) api(method, path, body string, out any) int {
	l.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, l.srv.URL+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		_ = json.Unmarshal(data, out)
	}
	return resp.StatusCode
}

const window = 800 * time.Millisecond

// holdByPhone holds from a phone's hold key and checks the media; it
// records the re-INVITE → first hold-tone packet delay.
func (l *lab) holdByPhone(callID string, holder, held *sipphone.Call, how sipphone.HoldSDP, holderHz float64, n int) {
	l.t.Helper()
	t0 := time.Now()
	if err := holder.Hold(ctxT(l.t), how); err != nil {
		l.t.Fatalf("re-INVITE hold: %v", err)
	}
	ev := l.wait(callID, app.EventHoldSuccess, n)
	if ev.Source != app.SourcePhone {
		l.t.Fatalf("hold source %q, want phone", ev.Source)
	}
	first := l.hearsWithin(held, holdHz, "the held party hears the hold tone")
	latencies.Lock()
	latencies.hold = append(latencies.hold, first.Sub(t0))
	latencies.Unlock()
	from := time.Now()
	time.Sleep(window)
	l.expectHeld(held, holderHz, from, time.Now())
}

// resumeByPhone resumes from the holder's phone and records the re-INVITE →
// the held party hearing the holder again.
func (l *lab) resumeByPhone(callID string, holder, held *sipphone.Call, holderHz float64, n int) {
	l.t.Helper()
	t0 := time.Now()
	if err := holder.Unhold(ctxT(l.t)); err != nil {
		l.t.Fatalf("re-INVITE resume: %v", err)
	}
	ev := l.wait(callID, app.EventUnholdSuccess, n)
	if ev.Source != app.SourcePhone {
		l.t.Fatalf("resume source %q, want phone", ev.Source)
	}
	first := l.hearsWithin(held, holderHz, "the held party hears its holder again")
	latencies.Lock()
	latencies.resume = append(latencies.resume, first.Sub(t0))
	latencies.Unlock()
}

var (
	started  = app.EventCallStarted
	answered = app.EventCallAnswered
	holdOK   = app.EventHoldSuccess
	unholdOK = app.EventUnholdSuccess
	unholdNo = app.EventUnholdFailed
	ended    = app.EventCallEnded
)

// TestCallerHoldsByReinvite: alice presses hold (sendonly re-INVITE): bob
// hears the hold tone and not alice, alice hears silence; alice resumes
// (sendrecv): both hear each other again. The other hold SDP forms too.
func TestCallerHoldsByReinvite(t *testing.T) {
	l := newLab(t)
	callID, ac, bc := l.call()
	n := 0
	for _, how := range []sipphone.HoldSDP{sipphone.HoldSendonly, sipphone.HoldInactive, sipphone.HoldZeroAddr} {
		n++
		from := time.Now()
		l.holdByPhone(callID, ac, bc, how, aliceHz, n)
		info := l.wait(callID, holdOK, n).Call
		if info.Caller.State != app.Hold || info.Callee.State != app.Live || !info.Callee.OnHoldMusic {
			t.Fatalf("hold (%v): %+v", how, info)
		}
		if f := ac.Audio().Hears(from.Add(200*time.Millisecond), time.Now(), bobHz); f > 0.02 {
			t.Errorf("the holder hears bob in %.0f%% of packets; it should hear silence", 100*f)
		}
		// A repeated hold re-INVITE changes nothing twice.
		if err := ac.Hold(ctxT(t), how); err != nil {
			t.Fatal(err)
		}
		l.resumeByPhone(callID, ac, bc, aliceHz, n)
		from = time.Now().Add(100 * time.Millisecond)
		time.Sleep(window)
		l.expectTalking(ac, bc, from, time.Now())
	}
	if err := ac.Hangup(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	<-bc.Ended()
	l.wait(callID, ended, 1)
	l.expectSequence(callID, started, answered, holdOK, unholdOK, holdOK, unholdOK, holdOK, unholdOK, ended)
}

// TestCalleeHoldsByReinvite: bob presses hold: alice hears the tone.
func TestCalleeHoldsByReinvite(t *testing.T) {
	l := newLab(t)
	callID, ac, bc := l.call()
	l.holdByPhone(callID, bc, ac, sipphone.HoldSendonly, bobHz, 1)
	if ev := l.wait(callID, holdOK, 1); ev.Party != app.Callee {
		t.Fatalf("holder %q", ev.Party)
	}
	l.resumeByPhone(callID, bc, ac, bobHz, 1)
	from := time.Now().Add(100 * time.Millisecond)
	time.Sleep(window)
	l.expectTalking(ac, bc, from, time.Now())
	if err := bc.Hangup(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	<-ac.Ended()
	l.expectSequence(callID, started, answered, holdOK, unholdOK, ended)
}

// TestHoldByAPI: the control API holds and resumes; the phones hear it.
func TestHoldByAPI(t *testing.T) {
	l := newLab(t)
	callID, ac, bc := l.call()
	var info app.CallInfo
	if code := l.api("POST", "/v1/calls/"+callID+"/hold", `{"party":"caller"}`, &info); code != 200 || info.Caller.State != app.Hold {
		t.Fatalf("hold: %d %+v", code, info)
	}
	l.hearsWithin(bc, holdHz, "bob hears the hold tone")
	from := time.Now()
	time.Sleep(window)
	l.expectHeld(bc, aliceHz, from, time.Now())
	// Only the holder may resume.
	var e api.ErrorBody
	if code := l.api("POST", "/v1/calls/"+callID+"/unhold", `{"party":"callee"}`, &e); code != 409 || e.Error.Code != api.CodeNotHolding {
		t.Fatalf("resume by bob: %d %+v", code, e)
	}
	from = time.Now()
	time.Sleep(window / 2)
	l.expectHeld(bc, aliceHz, from, time.Now())
	if code := l.api("POST", "/v1/calls/"+callID+"/unhold", `{"party":"caller"}`, &info); code != 200 || info.Caller.State != app.Live {
		t.Fatalf("resume: %d %+v", code, info)
	}
	l.hearsWithin(bc, aliceHz, "bob hears alice again")
	from = time.Now().Add(100 * time.Millisecond)
	time.Sleep(window)
	l.expectTalking(ac, bc, from, time.Now())
	if code := l.api("DELETE", "/v1/calls/"+callID, "", nil); code != 200 {
		t.Fatalf("hangup: %d", code)
	}
	<-ac.Ended()
	<-bc.Ended()
	if ac.EndedBy() != "remote" || bc.EndedBy() != "remote" {
		t.Fatalf("ended by %s and %s, want remote (BYE from Asterisk)", ac.EndedBy(), bc.EndedBy())
	}
	l.expectSequence(callID, started, answered, holdOK, unholdOK, ended)
}

// TestHoldByDTMF: alice keys *7 and *8.
func TestHoldByDTMF(t *testing.T) {
	l := newLab(t)
	callID, ac, bc := l.call()
	if err := ac.SendDTMF(ctxT(t), "*7"); err != nil {
		t.Fatal(err)
	}
	ev := l.wait(callID, holdOK, 1)
	if ev.Source != app.SourceDTMF || ev.Party != app.Caller {
		t.Fatalf("hold by DTMF: source %q party %q", ev.Source, ev.Party)
	}
	l.hearsWithin(bc, holdHz, "bob hears the hold tone")
	if err := ac.SendDTMF(ctxT(t), "*8"); err != nil {
		t.Fatal(err)
	}
	if ev := l.wait(callID, unholdOK, 1); ev.Source != app.SourceDTMF {
		t.Fatalf("resume source %q", ev.Source)
	}
	l.hearsWithin(bc, aliceHz, "bob hears alice again")
	if err := ac.Hangup(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	<-bc.Ended()
	l.expectSequence(callID, started, answered, holdOK, unholdOK, ended)
}

// TestMutualHold: both press hold; each hears the tone; a resume restores
// only the resumer's side (M2); in both orders.
func TestMutualHold(t *testing.T) {
	for _, first := range []string{"alice", "bob"} {
		t.Run(first+" resumes first", func(t *testing.T) {
			l := newLab(t)
			callID, ac, bc := l.call()
			// alice holds from her keypad, bob by the API: a phone that
			// holds with a re-INVITE (sendonly) receives no media at all, by
			// its own request, so its side of M2 could not be heard.
			if err := ac.SendDTMF(ctxT(t), "*7"); err != nil {
				t.Fatal(err)
			}
			l.wait(callID, holdOK, 1)
			if code := l.api("POST", "/v1/calls/"+callID+"/hold", `{"party":"callee"}`, nil); code != 200 {
				t.Fatalf("bob holds by API: %d", code)
			}
			l.hearsWithin(ac, holdHz, "alice hears the hold tone")
			l.hearsWithin(bc, holdHz, "bob hears the hold tone")
			r1, r2 := ac, bc // the first resumer and its peer
			if first == "bob" {
				r1, r2 = bc, ac
			}
			if first == "alice" {
				if err := ac.SendDTMF(ctxT(t), "*8"); err != nil {
					t.Fatal(err)
				}
			} else if code := l.api("POST", "/v1/calls/"+callID+"/unhold", `{"party":"callee"}`, nil); code != 200 {
				t.Fatalf("bob resumes: %d", code)
			}
			l.wait(callID, unholdOK, 1)
			// The resumer's peer is back in the bridge (it hears nobody: the
			// resumer itself is still held and on the tone).
			time.Sleep(200 * time.Millisecond)
			from := time.Now()
			time.Sleep(window)
			peerHz := float64(bobHz)
			if first == "bob" {
				peerHz = aliceHz
			}
			l.expectHeld(r1, peerHz, from, time.Now())
			if f := r2.Audio().Hears(from, time.Now(), holdHz); f > 0.02 {
				t.Errorf("the resumer's peer still hears the hold tone (%.0f%%)", 100*f)
			}
			if first == "alice" {
				if code := l.api("POST", "/v1/calls/"+callID+"/unhold", `{"party":"callee"}`, nil); code != 200 {
					t.Fatalf("bob resumes: %d", code)
				}
			} else if err := ac.SendDTMF(ctxT(t), "*8"); err != nil {
				t.Fatal(err)
			}
			l.wait(callID, unholdOK, 2)
			l.hearsWithin(ac, bobHz, "alice hears bob")
			l.hearsWithin(bc, aliceHz, "bob hears alice")
			if err := ac.Hangup(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			<-bc.Ended()
			l.expectSequence(callID, started, answered, holdOK, holdOK, unholdOK, unholdOK, ended)
		})
	}
}

// TestHangupWhileHeld: either phone hanging up while held ends the call and
// Asterisk sends BYE to the other.
func TestHangupWhileHeld(t *testing.T) {
	for _, who := range []string{"holder", "held"} {
		t.Run(who+" hangs up", func(t *testing.T) {
			l := newLab(t)
			callID, ac, bc := l.call()
			if err := ac.Hold(ctxT(t), sipphone.HoldSendonly); err != nil {
				t.Fatal(err)
			}
			l.wait(callID, holdOK, 1)
			l.hearsWithin(bc, holdHz, "bob hears the hold tone")
			hanger, other := ac, bc
			if who == "held" {
				hanger, other = bc, ac
			}
			if err := hanger.Hangup(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			select {
			case <-other.Ended():
			case <-time.After(5 * time.Second):
				t.Fatal("the other phone got no BYE")
			}
			if other.EndedBy() != "remote" {
				t.Fatalf("ended by %s", other.EndedBy())
			}
			l.wait(callID, ended, 1)
			l.expectSequence(callID, started, answered, holdOK, ended)
		})
	}
}

// TestFailedResume: the bridge is destroyed behind ariapp's back while
// alice holds; alice's resume re-INVITE ends in unhold_failed, and both
// phones get a BYE.
func TestFailedResume(t *testing.T) {
	l := newLab(t)
	callID, ac, bc := l.call()
	if err := ac.Hold(ctxT(t), sipphone.HoldSendonly); err != nil {
		t.Fatal(err)
	}
	info := l.wait(callID, holdOK, 1).Call
	if err := l.client.DestroyBridge(ctxT(t), info.BridgeID); err != nil {
		t.Fatal(err)
	}
	if err := ac.Unhold(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	ev := l.wait(callID, unholdNo, 1)
	if !strings.Contains(ev.Reason, "Bridge not found") {
		t.Fatalf("unhold_failed reason %q", ev.Reason)
	}
	for name, c := range map[string]*sipphone.Call{"alice": ac, "bob": bc} {
		select {
		case <-c.Ended():
		case <-time.After(5 * time.Second):
			t.Fatalf("%s got no BYE", name)
		}
	}
	l.expectSequence(callID, started, answered, holdOK, unholdNo, ended)
}

// TestRefusedPhoneHold: a phone whose hold policy refuses presses hold: the
// hold_failed is reported and the peer keeps hearing it — not Asterisk's
// own music on hold, which the hold passing through the bridge starts.
func TestRefusedPhoneHold(t *testing.T) {
	l := newLab(t, func(c *app.Config) { c.HoldAllowedEndpoints = []string{"PJSIP/carol"} })
	callID, ac, bc := l.call()
	if err := ac.Hold(ctxT(t), sipphone.HoldSendonly); err != nil {
		t.Fatal(err)
	}
	ev := l.wait(callID, app.EventHoldFailed, 1)
	if ev.Source != app.SourcePhone || ev.Call.Caller.State != app.Live {
		t.Fatalf("hold_failed: %+v", ev)
	}
	time.Sleep(400 * time.Millisecond) // past the second look for Asterisk's music
	from := time.Now()
	time.Sleep(window)
	if f := bc.Audio().Hears(from, time.Now(), aliceHz); f < 0.8 {
		t.Fatalf("bob hears alice in only %.0f%% of packets after a refused hold (%s)", 100*f, audio(bc, from, time.Now()))
	}
	if err := ac.Unhold(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if err := ac.Hangup(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	<-bc.Ended()
	l.expectSequence(callID, started, answered, app.EventHoldFailed, ended)
}

// quiet checks that a call hears hz in (almost) none of its packets in a
// window: silence, or no RTP at all.
func (l *lab) quiet(c *sipphone.Call, hz float64, from, to time.Time, what string) {
	l.t.Helper()
	if f := c.Audio().Hears(from, to, hz); f > 0.02 {
		l.t.Errorf("%s: heard in %.0f%% of packets (%s)", what, 100*f, audio(c, from, to))
	}
}

// mute mutes or unmutes (op "mute", "unmute") a party through the API and
// checks the party's resulting state.
func (l *lab) mute(callID, op, party, dir string, want app.MuteDirection) app.CallInfo {
	l.t.Helper()
	var info app.CallInfo
	if code := l.api("POST", "/v1/calls/"+callID+"/"+op, `{"party":"`+party+`","direction":"`+dir+`"}`, &info); code != 200 {
		l.t.Fatalf("%s %s %s: %d", op, party, dir, code)
	}
	if got := info.Party(app.Role(party)).Muted; got != want {
		l.t.Fatalf("%s %s %s: muted %q, want %q", op, party, dir, got, want)
	}
	return info
}

// TestMuteApartFromHold: alice muted "in" is not heard by bob (silence or
// no RTP) while the call stays bridged, and still hears bob; she holds and
// is held while muted, and each resume leaves her muted; a mute made while
// she is held holds when she is back; after the unmute bob hears her
// again. Muted "out", she does not hear bob, who hears her, nor the hold
// tone when bob holds. Both with a
// plain mixing bridge (Asterisk bridges the phones' RTP natively until a
// mute needs its core) and with the DTMF feature codes' bridge.
func TestMuteApartFromHold(t *testing.T) {
	for _, tc := range []struct {
		name string
		dtmf app.DTMFConfig
	}{
		{"native bridge", app.DTMFConfig{}},
		{"dtmf_events bridge", app.DTMFConfig{Hold: "*7", Resume: "*8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t, func(c *app.Config) { c.DTMF = tc.dtmf })
			callID, ac, bc := l.call()
			settle := func() time.Time { time.Sleep(200 * time.Millisecond); return time.Now() }

			l.mute(callID, "mute", "caller", "in", app.MuteIn)
			from := settle()
			time.Sleep(window)
			l.quiet(bc, aliceHz, from, time.Now(), "bob hears alice muted in")
			if f := ac.Audio().Hears(from, time.Now(), bobHz); f < 0.8 {
				t.Errorf("alice muted in hears bob in only %.0f%% of packets (%s)", 100*f, audio(ac, from, time.Now()))
			}

			// The muted party holds: the peer hears the tone; the resume
			// leaves her muted.
			if code := l.api("POST", "/v1/calls/"+callID+"/hold", `{"party":"caller"}`, nil); code != 200 {
				t.Fatalf("alice holds: %d", code)
			}
			l.hearsWithin(bc, holdHz, "bob hears the hold tone")
			var info app.CallInfo
			if code := l.api("POST", "/v1/calls/"+callID+"/unhold", `{"party":"caller"}`, &info); code != 200 || info.Caller.Muted != app.MuteIn {
				t.Fatalf("alice resumes: %d %+v", code, info.Caller)
			}
			l.hearsWithin(ac, bobHz, "alice hears bob after her resume")
			from = settle()
			time.Sleep(window)
			l.quiet(bc, aliceHz, from, time.Now(), "bob hears alice, still muted, after her resume")

			// The muted party is held: she hears the tone; after bob's
			// resume she is still muted.
			if code := l.api("POST", "/v1/calls/"+callID+"/hold", `{"party":"callee"}`, nil); code != 200 {
				t.Fatalf("bob holds: %d", code)
			}
			l.hearsWithin(ac, holdHz, "alice, muted in, hears the hold tone")
			if code := l.api("POST", "/v1/calls/"+callID+"/unhold", `{"party":"callee"}`, &info); code != 200 || info.Caller.Muted != app.MuteIn {
				t.Fatalf("bob resumes: %d %+v", code, info.Caller)
			}
			l.hearsWithin(ac, bobHz, "alice hears bob after bob's resume")
			from = settle()
			time.Sleep(window)
			l.quiet(bc, aliceHz, from, time.Now(), "bob hears alice, still muted, after his resume")

			l.mute(callID, "unmute", "caller", "in", "")
			l.hearsWithin(bc, aliceHz, "bob hears alice after the unmute")
			from = settle()
			time.Sleep(window)
			l.expectTalking(ac, bc, from, time.Now())

			// Muted while held: the mute holds once she is back.
			if code := l.api("POST", "/v1/calls/"+callID+"/hold", `{"party":"callee"}`, nil); code != 200 {
				t.Fatalf("bob holds: %d", code)
			}
			l.hearsWithin(ac, holdHz, "alice hears the hold tone")
			l.mute(callID, "mute", "caller", "in", app.MuteIn)
			if code := l.api("POST", "/v1/calls/"+callID+"/unhold", `{"party":"callee"}`, nil); code != 200 {
				t.Fatalf("bob resumes: %d", code)
			}
			l.hearsWithin(ac, bobHz, "alice hears bob after bob's resume")
			from = settle()
			time.Sleep(window)
			l.quiet(bc, aliceHz, from, time.Now(), "bob hears alice, muted while held, after his resume")
			l.mute(callID, "unmute", "caller", "both", "")
			l.hearsWithin(bc, aliceHz, "bob hears alice after the unmute")

			// Muted out: she hears nothing of bob, who hears her.
			l.mute(callID, "mute", "caller", "out", app.MuteOut)
			from = settle()
			time.Sleep(window)
			l.quiet(ac, bobHz, from, time.Now(), "alice muted out hears bob")
			if f := bc.Audio().Hears(from, time.Now(), aliceHz); f < 0.8 {
				t.Errorf("bob hears alice muted out in only %.0f%% of packets (%s)", 100*f, audio(bc, from, time.Now()))
			}
			// Held while muted out, she hears no hold tone either: "out"
			// cuts everything Asterisk sends her.
			if code := l.api("POST", "/v1/calls/"+callID+"/hold", `{"party":"callee"}`, nil); code != 200 {
				t.Fatalf("bob holds: %d", code)
			}
			from = settle()
			time.Sleep(window)
			l.quiet(ac, holdHz, from, time.Now(), "alice muted out and held hears the hold tone")
			if code := l.api("POST", "/v1/calls/"+callID+"/unhold", `{"party":"callee"}`, nil); code != 200 {
				t.Fatalf("bob resumes: %d", code)
			}
			from = settle()
			time.Sleep(window)
			l.quiet(ac, bobHz, from, time.Now(), "alice muted out hears bob after bob's resume")
			l.mute(callID, "unmute", "caller", "out", "")
			l.hearsWithin(ac, bobHz, "alice hears bob after the unmute")

			if err := ac.Hangup(ctxT(t)); err != nil {
				t.Fatal(err)
			}
			<-bc.Ended()
			l.wait(callID, ended, 1)
			mutedEv, unmutedEv := app.EventMuted, app.EventUnmuted
			l.expectSequence(callID, started, answered, mutedEv, holdOK, unholdOK, holdOK, unholdOK, unmutedEv,
				holdOK, mutedEv, unholdOK, unmutedEv, mutedEv, holdOK, unholdOK, unmutedEv, ended)
		})
	}
}

// TestMuteSurvivesRestart: alice is muted "in" and held by bob when
// ariapp is replaced; the new ariapp reports her mute from Asterisk's
// record, bob's resume brings her back still muted (bob does not hear
// her), and the new ariapp's unmute lets bob hear her again.
func TestMuteSurvivesRestart(t *testing.T) {
	l := newLab(t)
	callID, ac, bc := l.call()
	l.mute(callID, "mute", "caller", "in", app.MuteIn)
	if code := l.api("POST", "/v1/calls/"+callID+"/hold", `{"party":"callee"}`, nil); code != 200 {
		t.Fatalf("bob holds: %d", code)
	}
	l.hearsWithin(ac, holdHz, "alice hears the hold tone")

	l.restart()
	var info app.CallInfo
	deadline := time.Now().Add(10 * time.Second)
	for l.api("GET", "/v1/calls/"+callID, "", &info) != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the call was not adopted by the new ariapp")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if info.Caller.Muted != app.MuteIn || info.Callee.State != app.Hold || !info.Caller.OnHoldMusic {
		t.Fatalf("adopted call: %+v", info)
	}
	if code := l.api("POST", "/v1/calls/"+callID+"/unhold", `{"party":"callee"}`, &info); code != 200 || info.Caller.Muted != app.MuteIn {
		t.Fatalf("bob resumes after the restart: %d %+v", code, info.Caller)
	}
	l.hearsWithin(ac, bobHz, "alice hears bob after the resume")
	time.Sleep(200 * time.Millisecond)
	from := time.Now()
	time.Sleep(window)
	l.quiet(bc, aliceHz, from, time.Now(), "bob hears alice, muted before the restart")

	l.mute(callID, "unmute", "caller", "in", "")
	l.hearsWithin(bc, aliceHz, "bob hears alice after the unmute")
	if err := ac.Hangup(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	<-bc.Ended()
	l.wait(callID, ended, 1)
	l.expectSequence(callID, unholdOK, app.EventUnmuted, ended)
}
