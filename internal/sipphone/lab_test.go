package sipphone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
)

// The lab's phones (asterisk/pjsip.conf) and the tones they send here.
var (
	labAlice = Config{User: "alice", SIPAddr: "127.0.0.1:5071", Server: "127.0.0.1:5060", ToneHz: 700}
	labBob   = Config{User: "bob", SIPAddr: "127.0.0.1:5072", Server: "127.0.0.1:5060", ToneHz: 1300}
)

// testLogger sends a phone's debug log to t.Log (shown with -v or on
// failure) until the test's cleanup stops it.
func testLogger(t *testing.T) *slog.Logger {
	w := &tWriter{t: t}
	t.Cleanup(func() { w.off.Store(true) })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct {
	t   *testing.T
	off atomic.Bool
}

func (w *tWriter) Write(b []byte) (int, error) {
	if !w.off.Load() {
		w.t.Log(strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}

// labPhone starts a lab phone. Its SIP port is fixed by pjsip.conf, so if
// another test process holds it, it waits (up to 30 s) for the port.
func labPhone(t *testing.T, cfg Config) *Phone {
	t.Helper()
	cfg.Logger = testLogger(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		p, err := New(ctx, cfg)
		cancel()
		if err == nil {
			t.Cleanup(func() { p.Close() })
			return p
		}
		if !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			t.Fatalf("phone %s: %v", cfg.User, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// labARI is a connected ARI client of a fresh test application with its
// event recorder; cleanup hangs up and destroys what the test created.
type labARI struct {
	t        *testing.T
	c        *ari.Client
	rec      *labtest.Recorder
	channels []string
	bridges  []string
}

func newLabARI(t *testing.T) *labARI {
	t.Helper()
	cfg := labtest.Require(t)
	labtest.LockPhones(t) // the phones' fixed ports are shared with the e2e tests
	c, err := ari.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		c.Close()
		t.Fatalf("connect: %v", err)
	}
	l := &labARI{t: t, c: c, rec: labtest.Record(c.Events())}
	l.rec.Wait(t, 0, labtest.WaitTimeout, "connected", labtest.Is(ari.ConnectionEventType, ""))
	t.Cleanup(l.cleanup)
	return l
}

func (l *labARI) cleanup() {
	ctx := context.Background()
	for _, id := range l.channels {
		_ = l.c.Hangup(ctx, id, ari.HangupNormal)
	}
	for _, id := range l.bridges {
		_ = l.c.DestroyBridge(ctx, id)
	}
	labtest.ExpectNothingLeft(l.t, l.c, l.channels, l.bridges)
	l.c.Close()
	<-l.rec.Done()
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// callPhone has Asterisk call phone p (ARI originate to PJSIP/<user> into
// the test application); the phone answers. It returns the Asterisk channel
// id and the phone's call, once the channel is in Stasis.
func (l *labARI) callPhone(p *Phone) (string, *Call) {
	t := l.t
	t.Helper()
	ctx := testCtx(t, 15*time.Second)
	id := "sp-" + p.User() + "-" + labtest.ID()
	l.channels = append(l.channels, id)
	from := len(l.rec.Events())
	if _, err := l.c.Originate(ctx, ari.OriginateParams{
		Endpoint:  "PJSIP/" + p.User(),
		ChannelID: id,
		App:       l.c.Application(),
		CallerID:  fmt.Sprintf("%q <%s>", id, id), // the From user of the INVITE
		Timeout:   10 * time.Second,
	}); err != nil {
		t.Fatalf("originate to %s: %v", p.User(), err)
	}
	// The lab phones' ports are shared: a call that is not ours (an earlier
	// test's late originate, another process dialling the phone) is turned
	// away.
	var call *Call
	for call == nil {
		c, err := p.Incoming(ctx)
		if err != nil {
			t.Fatalf("%s: no incoming call: %v", p.User(), err)
		}
		if c.RemoteUser() != id {
			t.Logf("%s: rejecting a call from %q that is not this test's", p.User(), c.RemoteUser())
			_ = c.Reject(ctx, 480)
			continue
		}
		call = c
	}
	if err := call.Answer(ctx); err != nil {
		t.Fatalf("%s: answer: %v", p.User(), err)
	}
	l.rec.Within(t, from, "StasisStart", id)
	return id, call
}

// interArrival summarises the gaps between consecutive µ-law packets.
func interArrival(pkts []Packet) string {
	var gaps []float64
	var last time.Time
	for _, p := range pkts {
		if p.PT != 0 {
			continue
		}
		if !last.IsZero() {
			gaps = append(gaps, float64(p.At.Sub(last).Microseconds())/1000)
		}
		last = p.At
	}
	if len(gaps) == 0 {
		return "no packets"
	}
	sort.Float64s(gaps)
	var sum, sq float64
	for _, g := range gaps {
		sum += g
	}
	mean := sum / float64(len(gaps))
	for _, g := range gaps {
		sq += (g - mean) * (g - mean)
	}
	return fmt.Sprintf("%d gaps: mean %.2f ms, sd %.2f ms, min %.2f, median %.2f, p99 %.2f, max %.2f",
		len(gaps), mean, math.Sqrt(sq/float64(len(gaps))), gaps[0], gaps[len(gaps)/2], gaps[len(gaps)*99/100], gaps[len(gaps)-1])
}

// waitHears waits until rec has hz and then asserts that hz dominates at
// least minFrac of the packets of the next window.
func waitHears(t *testing.T, who string, rec *Recording, after time.Time, hz float64, window time.Duration, minFrac float64) time.Time {
	t.Helper()
	first, err := rec.WaitHeard(testCtx(t, 10*time.Second), after, hz)
	if err != nil {
		t.Fatalf("%s never heard %v Hz after %v (%d packets recorded)", who, hz, after.Format("15:04:05.000"), rec.Len())
	}
	time.Sleep(window + 100*time.Millisecond)
	from := first.Add(100 * time.Millisecond)
	if f := rec.Hears(from, from.Add(window), hz); f < minFrac {
		pkts := rec.Packets(from, from.Add(window))
		var tones []string
		for _, p := range pkts {
			tones = append(tones, fmt.Sprintf("%.0f:%.2f/%.0f", float64(p.At.Sub(first).Milliseconds()), Tone(p.PCM, hz), RMS(p.PCM)))
		}
		t.Fatalf("%s hears %v Hz in %.0f%% of the %d packets of %v after first hearing it (%d recorded in all); ms:tone/rms %v",
			who, hz, f*100, len(pkts), window, rec.Len(), tones)
	}
	return first
}

// TestLabPhoneWithAsterisk: Asterisk calls the phone through ARI, plays it a
// tone, and sees its hold (all three SDP styles), resume, DTMF and hang-up
// as ARI events.
func TestLabPhoneWithAsterisk(t *testing.T) {
	l := newLabARI(t)
	bob := labPhone(t, labBob)
	chID, call := l.callPhone(bob)
	ctx := testCtx(t, 60*time.Second)

	if r := call.Remote(); r.Addr.String() != "127.0.0.1" || r.Port < 20000 || r.Port > 29999 || r.Direction != SendRecv {
		t.Errorf("Asterisk's offer: %+v", r)
	}
	if pt, ok := call.Remote().PayloadType("telephone-event"); !ok {
		t.Errorf("Asterisk offered no telephone-event")
	} else {
		t.Logf("Asterisk's telephone-event payload type: %d", pt)
	}

	// Asterisk plays a 440 Hz tone to the phone.
	pbID := "sp-pb-" + labtest.ID()
	from := len(l.rec.Events())
	playAt := time.Now()
	if _, err := l.c.Play(ctx, chID, pbID, "tone:440"); err != nil {
		t.Fatal(err)
	}
	l.rec.Within(t, from, "PlaybackStarted", pbID)
	first := waitHears(t, "bob", call.Audio(), playAt, 440, time.Second, 0.95)
	t.Logf("bob first heard 440 Hz %v after POST play", first.Sub(playAt).Round(time.Millisecond))
	t.Logf("RTP from Asterisk over 1 s of tone: %s", interArrival(call.Audio().Packets(first, first.Add(time.Second))))
	for _, p := range call.Audio().Packets(first, time.Time{}) {
		if p.Src != call.Remote().AddrPort() {
			t.Errorf("RTP from %v, Asterisk's SDP says %v", p.Src, call.Remote().AddrPort())
			break
		}
	}
	call.mu.Lock()
	t.Logf("Asterisk's Contact %s, route set %q", call.remoteTarget.String(), call.routeSet)
	call.mu.Unlock()
	if err := l.c.StopPlayback(ctx, pbID); err != nil {
		t.Fatal(err)
	}
	l.rec.Within(t, from, "PlaybackFinished", pbID)

	// Hold and resume in each SDP style: ChannelHold / ChannelUnhold.
	for _, how := range []HoldSDP{HoldSendonly, HoldInactive, HoldZeroAddr} {
		from := len(l.rec.Events())
		sentBefore := call.PacketsSent()
		start := time.Now()
		if err := call.Hold(ctx, how); err != nil {
			t.Fatalf("hold %v: %v", how, err)
		}
		replied := time.Now()
		ev, _ := l.rec.Within(t, from, "ChannelHold", chID)
		seen := time.Now()
		t.Logf("hold %-8v: 200 OK %v after Hold was called, ChannelHold seen by the test %v after (Asterisk's stamp, ms precision: %v); Asterisk answered %s",
			how, replied.Sub(start).Round(10*time.Microsecond), seen.Sub(start).Round(10*time.Microsecond),
			ev.Base().Timestamp.Sub(start).Round(time.Millisecond), call.Remote().Direction)
		// Asterisk treats c=0.0.0.0 like a=sendonly and answers recvonly.
		wantDir := map[HoldSDP]string{HoldSendonly: RecvOnly, HoldInactive: Inactive, HoldZeroAddr: RecvOnly}[how]
		if got := call.Remote().Direction; got != wantDir {
			t.Errorf("hold %v: Asterisk answered %s, want %s", how, got, wantDir)
		}
		time.Sleep(200 * time.Millisecond)
		sending := call.PacketsSent() >= sentBefore+2 // ~10 on an idle machine
		if wantSend := how != HoldInactive; call.Sending() != wantSend || (wantSend && !sending) {
			t.Errorf("hold %v: phone sending = %v (packets %d → %d), want %v", how, call.Sending(), sentBefore, call.PacketsSent(), wantSend)
		}

		if how == HoldSendonly {
			// The same hold again (a session refresh with a new o= version)
			// emits no second ChannelHold.
			from2 := len(l.rec.Events())
			if err := call.Reinvite(ctx); err != nil {
				t.Fatalf("repeated hold: %v", err)
			}
			time.Sleep(300 * time.Millisecond)
			for _, ev := range l.rec.Events()[from2:] {
				if ev.GetType() == "ChannelHold" || ev.GetType() == "ChannelUnhold" {
					t.Errorf("repeated sendonly re-INVITE emitted %s", ev.GetType())
				}
			}
		}

		from = len(l.rec.Events())
		start = time.Now()
		if err := call.Unhold(ctx); err != nil {
			t.Fatalf("unhold after %v: %v", how, err)
		}
		l.rec.Within(t, from, "ChannelUnhold", chID)
		t.Logf("unhold after %-8v: ChannelUnhold seen by the test %v after Unhold was called; Asterisk answered %s",
			how, time.Since(start).Round(10*time.Microsecond), call.Remote().Direction)
		if got := call.Remote().Direction; got != SendRecv || !call.Sending() {
			t.Errorf("after unhold: Asterisk answered %s, phone sending %v", got, call.Sending())
		}
	}

	// DTMF: RFC 4733 events on the RTP stream.
	from = len(l.rec.Events())
	if err := call.SendDTMF(ctx, "5"); err != nil {
		t.Fatal(err)
	}
	ev, _ := l.rec.Within(t, from, "ChannelDtmfReceived", chID)
	if d := ev.(*ari.ChannelDtmfReceived); d.Digit != "5" {
		t.Errorf("DTMF digit = %q, want 5", d.Digit)
	} else {
		t.Logf("ChannelDtmfReceived digit %s duration %d ms", d.Digit, d.DurationMs)
	}
	from = len(l.rec.Events())
	if err := call.SendDTMF(ctx, "*0#"); err != nil {
		t.Fatal(err)
	}
	var digits []string
	idx := from
	for range 3 {
		ev, i := l.rec.Within(t, idx, "ChannelDtmfReceived", chID)
		digits = append(digits, ev.(*ari.ChannelDtmfReceived).Digit)
		idx = i + 1
	}
	if got := strings.Join(digits, ""); got != "*0#" {
		t.Errorf("DTMF digits = %q, want *0#", got)
	}

	// The phone hangs up: Asterisk's channel leaves Stasis.
	from = len(l.rec.Events())
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	l.rec.Within(t, from, "StasisEnd", chID)
	select {
	case <-call.Ended():
	default:
		t.Error("call not ended after Hangup")
	}
	if by := call.EndedBy(); by != "local" {
		t.Errorf("EndedBy = %q, want local", by)
	}
	if err := call.Hangup(ctx); !errors.Is(err, ErrEnded) {
		t.Errorf("second Hangup = %v, want ErrEnded", err)
	}
}

// TestLabTwoPhonesBridged: Asterisk calls alice and bob, joins them in a
// mixing bridge: each hears the other's tone and not its own; ARI's hang-up
// reaches both phones as BYE.
func TestLabTwoPhonesBridged(t *testing.T) {
	l := newLabARI(t)
	alice := labPhone(t, labAlice)
	bob := labPhone(t, labBob)
	aID, aCall := l.callPhone(alice)
	bID, bCall := l.callPhone(bob)
	ctx := testCtx(t, 60*time.Second)

	brID := "sp-br-" + labtest.ID()
	l.bridges = append(l.bridges, brID)
	if _, err := l.c.CreateBridge(ctx, brID, "mixing", "sipphone"); err != nil {
		t.Fatal(err)
	}
	from := len(l.rec.Events())
	bridged := time.Now()
	if err := l.c.AddChannel(ctx, brID, aID, bID); err != nil {
		t.Fatal(err)
	}
	l.rec.Within(t, from, "ChannelEnteredBridge", aID)
	l.rec.Within(t, from, "ChannelEnteredBridge", bID)

	aFirst := waitHears(t, "alice", aCall.Audio(), bridged, bob.cfg.ToneHz, 2*time.Second, 0.95)
	bFirst := waitHears(t, "bob", bCall.Audio(), bridged, alice.cfg.ToneHz, 2*time.Second, 0.95)
	t.Logf("after addChannel: alice heard bob's %v Hz after %v, bob heard alice's %v Hz after %v",
		bob.cfg.ToneHz, aFirst.Sub(bridged).Round(time.Millisecond), alice.cfg.ToneHz, bFirst.Sub(bridged).Round(time.Millisecond))
	win := time.Now().Add(-2 * time.Second)
	if f := aCall.Audio().Hears(win, time.Time{}, alice.cfg.ToneHz); f > 0.05 {
		t.Errorf("alice hears her own %v Hz in %.0f%% of packets", alice.cfg.ToneHz, f*100)
	}
	if f := bCall.Audio().Hears(win, time.Time{}, bob.cfg.ToneHz); f > 0.05 {
		t.Errorf("bob hears his own %v Hz in %.0f%% of packets", bob.cfg.ToneHz, f*100)
	}
	t.Logf("RTP to alice through the bridge: %s", interArrival(aCall.Audio().Packets(win, time.Time{})))

	// Asterisk hangs both channels up: each phone gets a BYE.
	from = len(l.rec.Events())
	for _, id := range []string{aID, bID} {
		if err := l.c.Hangup(ctx, id, ari.HangupNormal); err != nil {
			t.Fatal(err)
		}
	}
	for who, c := range map[string]*Call{"alice": aCall, "bob": bCall} {
		select {
		case <-c.Ended():
		case <-ctx.Done():
			t.Fatalf("%s's call did not end after ARI hang-up", who)
		}
		if by := c.EndedBy(); by != "remote" {
			t.Errorf("%s: EndedBy = %q, want remote", who, by)
		}
	}
	l.rec.Within(t, from, "StasisEnd", aID)
	l.rec.Within(t, from, "StasisEnd", bID)
	if err := l.c.DestroyBridge(ctx, brID); err != nil {
		t.Errorf("destroy bridge: %v", err)
	}
}
