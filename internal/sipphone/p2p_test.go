package sipphone

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"
)

// freeAddr returns a loopback UDP address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// phonePair starts two phones that use each other as "server": a phone
// dialling anything reaches the other directly, no Asterisk involved.
func phonePair(t *testing.T) (a, b *Phone) {
	t.Helper()
	aAddr, bAddr := freeAddr(t), freeAddr(t)
	ctx := testCtx(t, 5*time.Second)
	var err error
	a, err = New(ctx, Config{User: "a", SIPAddr: aAddr, Server: bAddr, ToneHz: 700, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err = New(ctx, Config{User: "b", SIPAddr: bAddr, Server: aAddr, ToneHz: 1300, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b
}

// connect has a dial b and b answer.
func connect(t *testing.T, a, b *Phone) (ac, bc *Call) {
	t.Helper()
	ctx := testCtx(t, 5*time.Second)
	answered := make(chan error, 1)
	go func() {
		c, err := b.Incoming(ctx)
		if err == nil {
			bc = c
			err = c.Answer(ctx)
		}
		answered <- err
	}()
	ac, err := a.Dial(ctx, "b")
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if err := <-answered; err != nil {
		t.Fatalf("answer: %v", err)
	}
	return ac, bc
}

func TestPhoneToPhone(t *testing.T) {
	a, b := phonePair(t)
	ac, bc := connect(t, a, b)
	ctx := testCtx(t, 30*time.Second)
	if !ac.Outgoing() || bc.Outgoing() || ac.ID() != bc.ID() {
		t.Fatalf("call ids/directions: %v %v %q %q", ac.Outgoing(), bc.Outgoing(), ac.ID(), bc.ID())
	}
	if got := bc.Remote().Port; got != a.RTPPort() {
		t.Errorf("b sends to port %d, a listens on %d", got, a.RTPPort())
	}

	// Both hear each other.
	now := time.Now()
	waitHears(t, "a", ac.Audio(), now, 1300, 500*time.Millisecond, 0.95)
	waitHears(t, "b", bc.Audio(), now, 700, 500*time.Millisecond, 0.95)
	t.Logf("phone-to-phone RTP timing: %s", interArrival(bc.Audio().Packets(now, time.Time{})))

	// The callee holds with sendonly: the caller answers recvonly and stops
	// sending; the holder keeps sending.
	if err := bc.Hold(ctx, HoldSendonly); err != nil {
		t.Fatalf("callee hold: %v", err)
	}
	if d := bc.Remote().Direction; d != RecvOnly {
		t.Errorf("answer to sendonly = %s", d)
	}
	if ac.Sending() || !bc.Sending() {
		t.Errorf("during b's hold: a sending %v (want false), b sending %v (want true)", ac.Sending(), bc.Sending())
	}
	time.Sleep(100 * time.Millisecond)
	mark := time.Now()
	time.Sleep(300 * time.Millisecond)
	if n := len(bc.Audio().Packets(mark, time.Time{})); n != 0 {
		t.Errorf("b received %d packets while holding with sendonly", n)
	}
	if f := ac.Audio().Hears(mark, time.Time{}, 1300); f < 0.9 {
		t.Errorf("a hears the holder's tone in %.0f%% of packets", f*100)
	}
	if err := bc.Unhold(ctx); err != nil {
		t.Fatal(err)
	}
	if !ac.Sending() || !bc.Sending() {
		t.Errorf("after unhold: a sending %v b sending %v", ac.Sending(), bc.Sending())
	}

	// The caller holds with inactive: nobody sends.
	if err := ac.Hold(ctx, HoldInactive); err != nil {
		t.Fatal(err)
	}
	if ac.Sending() || bc.Sending() || bc.Remote().Direction != Inactive {
		t.Errorf("inactive hold: a sending %v b sending %v, b saw %s", ac.Sending(), bc.Sending(), bc.Remote().Direction)
	}
	if err := ac.SendDTMF(ctx, "1"); err == nil {
		t.Error("DTMF sent while inactive")
	}
	// A zero-address hold: the other side must not send to 0.0.0.0.
	if err := ac.Hold(ctx, HoldZeroAddr); err != nil {
		t.Fatal(err)
	}
	if !bc.Remote().Addr.IsUnspecified() || bc.Sending() || !ac.Sending() {
		t.Errorf("zero-addr hold: b saw %v, b sending %v, a sending %v", bc.Remote().Addr, bc.Sending(), ac.Sending())
	}
	if err := ac.Unhold(ctx); err != nil {
		t.Fatal(err)
	}

	// Both hold at once: a glare (491) is retried; both end up holding.
	errs := make(chan error, 2)
	go func() { errs <- ac.Hold(ctx, HoldSendonly) }()
	go func() { errs <- bc.Hold(ctx, HoldSendonly) }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Errorf("concurrent hold: %v", err)
		}
	}
	if err := ac.Unhold(ctx); err != nil {
		t.Fatal(err)
	}
	if err := bc.Unhold(ctx); err != nil {
		t.Fatal(err)
	}

	// DTMF arrives as telephone-event packets: digit 9, marker on the first,
	// three end packets of 800 samples.
	mark = time.Now()
	if err := ac.SendDTMF(ctx, "9"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	var evs, ends int
	for _, p := range bc.Audio().Packets(mark, time.Time{}) {
		if p.PT != 101 {
			continue
		}
		evs++
		if p.Payload[0] != 9 {
			t.Errorf("event %d, want 9", p.Payload[0])
		}
		if evs == 1 && !p.Marker {
			t.Error("first event packet without marker")
		}
		if p.Payload[1]&0x80 != 0 {
			ends++
			if d := int(p.Payload[2])<<8 | int(p.Payload[3]); d != 800 {
				t.Errorf("end duration %d, want 800", d)
			}
		}
	}
	if evs != digitPackets+endRepeats || ends != endRepeats {
		t.Errorf("DTMF packets: %d events, %d ends", evs, ends)
	}

	// The callee hangs up: the caller sees a remote end.
	if err := bc.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ac.Ended():
	case <-ctx.Done():
		t.Fatal("caller's call did not end")
	}
	if ac.EndedBy() != "remote" || bc.EndedBy() != "local" {
		t.Errorf("EndedBy: caller %q callee %q", ac.EndedBy(), bc.EndedBy())
	}
	if err := ac.Hold(ctx, HoldSendonly); !errors.Is(err, ErrEnded) {
		t.Errorf("hold after end = %v", err)
	}
}

func TestPhoneRejectAndCancel(t *testing.T) {
	a, b := phonePair(t)
	ctx := testCtx(t, 10*time.Second)

	// Reject: Dial returns the status.
	go func() {
		if c, err := b.Incoming(ctx); err == nil {
			_ = c.Reject(ctx, 486)
		}
	}()
	_, err := a.Dial(ctx, "b")
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 486 {
		t.Fatalf("dial to a rejecting phone = %v, want 486", err)
	}

	// Cancel: Dial's context ends while b rings.
	incoming := make(chan *Call, 1)
	go func() {
		if c, err := b.Incoming(ctx); err == nil {
			incoming <- c
		}
	}()
	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := a.Dial(dctx, "b"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled dial = %v", err)
	}
	c := <-incoming
	select {
	case <-c.Ended():
	case <-ctx.Done():
		t.Fatal("callee's ringing call did not end on CANCEL")
	}
	if c.EndedBy() != "remote" {
		t.Errorf("cancelled call EndedBy = %q", c.EndedBy())
	}
	if err := c.Answer(ctx); !errors.Is(err, ErrEnded) {
		t.Errorf("answering a cancelled call = %v", err)
	}

	// Close hangs up live calls: the peer sees a BYE.
	ac, bc := connect(t, a, b)
	a.Close()
	select {
	case <-bc.Ended():
	case <-ctx.Done():
		t.Fatal("closing the caller did not end the callee's call")
	}
	if ac.EndedBy() != "local" || bc.EndedBy() != "remote" {
		t.Errorf("after Close: %q %q", ac.EndedBy(), bc.EndedBy())
	}
	if _, err := a.Dial(ctx, "b"); !errors.Is(err, ErrClosed) {
		t.Errorf("dial after Close = %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// TestNewRejectsPublicAddresses: a phone listens and talks on loopback or
// private addresses only.
func TestNewRejectsPublicAddresses(t *testing.T) {
	for _, cfg := range []Config{
		{User: "x", SIPAddr: "203.0.113.1:5071", Server: "127.0.0.1:5060", ToneHz: 700},
		{User: "x", SIPAddr: "127.0.0.1:5071", Server: "198.51.100.1:5060", ToneHz: 700},
		{User: "x", SIPAddr: "[::1]:5071", Server: "127.0.0.1:5060", ToneHz: 700},
		{User: "x", SIPAddr: "127.0.0.1:0", Server: "127.0.0.1:5060", ToneHz: 700},
		{User: "", SIPAddr: "127.0.0.1:5071", Server: "127.0.0.1:5060", ToneHz: 700},
		{User: "x", SIPAddr: "127.0.0.1:5071", Server: "127.0.0.1:5060", ToneHz: 5000},
	} {
		if p, err := New(context.Background(), cfg); err == nil {
			p.Close()
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}
