package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/sipphone"
)

// The SIP mode's set-ups: the same phones through ariapp, and through
// Asterisk alone (a plain Dial(); a phone's hold gives its peer Asterisk's
// own music on hold).
const (
	SetupAriapp   = "ariapp"
	SetupAsterisk = "asterisk"
)

// The lab's benchmark phones (asterisk/pjsip.conf) and the Stasis
// application their app- extensions enter (asterisk/extensions.conf).
const (
	sipApp       = "ariapp-bench-sip"
	callerUser   = "bencha"
	callerSIP    = "127.0.0.1:5081"
	calleeUser   = "benchb"
	calleeSIP    = "127.0.0.1:5082"
	benchChanPfx = "PJSIP/bench"
)

// Hold methods.
const (
	byReinvite = "reinvite" // the caller's phone re-INVITEs with a=sendonly
	byAPI      = "api"      // POST /v1/calls/{id}/hold {"party":"caller"}
)

// sipConfig is one run of the SIP mode.
type sipConfig struct {
	Levels    []int
	Setups    []string      // SetupAriapp, SetupAsterisk, in this order at each level
	Window    time.Duration // the mixed window: calls hold and resume
	Phase     time.Duration // the all-bridged and the all-held windows
	HoldShare float64       // share of the calls on hold at any time in the mixed window
	Cycle     time.Duration // one hold and resume of a call, with the talk after it
	APIShare  float64       // ariapp: share of the calls that hold through the control API
	Media     string        // ariapp's hold.media ("": its default)
	MaxP99    time.Duration // capacity: hold latency p99 limit
	KeepGoing bool          // run a set-up at higher levels after it missed its capacity
	// QuietBelow: before each point, wait (up to QuietWait) until the
	// machine, with no call up, is busy less than this share of all its
	// cores (0: do not wait), so the other users of a shared box disturb
	// fewer points.
	QuietBelow float64
	QuietWait  time.Duration
	// ARILog makes ariapp log every ARI request (level info), and the
	// report gives their durations: where a slow hold spends its time, at
	// the cost of ariapp's CPU for the log.
	ARILog    bool
	Server    string // Asterisk's SIP address
	Out       string
	AriappBin string
	ARI       ari.Config
	Logf      func(format string, a ...any)
}

// cpuMark is a snapshot of the CPU the processes of a run have used.
type cpuMark struct {
	at                   time.Time
	asterisk, app, phone time.Duration
	boxBusy, boxAll      uint64 // /proc/stat jiffies
	udpDrops             uint64 // the machine's UDP receive buffer errors
	stalls               uint64 // the phones' send stalls
}

// window is the CPU of a measured window, per call-second and in total.
type window struct {
	Seconds float64 `json:"seconds"`
	// AsteriskPerCall is Asterisk's CPU time per call-second, in percent of
	// one core: what one call costs it.
	AsteriskPerCall float64 `json:"asterisk_pct_per_call"`
	AsteriskTotal   float64 `json:"asterisk_pct"`        // percent of one core
	AriappTotal     float64 `json:"ariapp_pct"`          // percent of one core
	AriappPerCall   float64 `json:"ariapp_pct_per_call"` // percent of one core per call
	PhonesTotal     float64 `json:"phones_pct"`          // this process (the phones), percent of one core
	BoxBusy         float64 `json:"box_busy_pct"`        // the whole machine, percent of all its cores
	// Others is the machine's busy time less Asterisk, ariapp and the
	// phones, in percent of all its cores: other users of the shared box.
	Others float64 `json:"others_pct"`
	// UDPDrops is the machine's count of UDP packets dropped for a full
	// receive buffer (/proc/net/snmp RcvbufErrors): loss at a socket, the
	// phones' or Asterisk's, rather than on the way.
	UDPDrops uint64 `json:"udp_drops"`
	// PhoneStalls counts the phones' own late packets (Phone.SendStalls):
	// a gap a phone caused, which the peer then hears.
	PhoneStalls uint64 `json:"phone_stalls"`
}

// SIPResult is one set-up at one level.
type SIPResult struct {
	Setup string `json:"setup"`
	Level int    `json:"calls"`
	Up    int    `json:"calls_up"` // calls set up

	SetupTime OpStats `json:"setup_time"` // INVITE → 200 OK ACKed at the caller's phone

	// Latency at the phone, from the trigger (re-INVITE or API request
	// leaving) to the held party's first packet of the hold medium
	// (HoldSwitch: the peer's tone gone; HoldTone: the 440 Hz tone) or, for
	// a resume, to the first packet with the peer's tone again.
	HoldTone   OpStats            `json:"hold_tone"`
	HoldSwitch OpStats            `json:"hold_switch"`
	Resume     OpStats            `json:"resume"`
	ByMethod   map[string]OpStats `json:"by_method,omitempty"` // hold_tone.api, resume.reinvite, ...
	APIReply   OpStats            `json:"api_reply"`           // ariapp: POST .../hold to its 200

	Health     health `json:"health"`
	Holds      int    `json:"holds"`
	OpErrors   int    `json:"op_errors"`
	FirstError string `json:"first_error,omitempty"`

	Bridged window `json:"bridged"` // every call bridged
	Mixed   window `json:"mixed"`   // HoldShare of them held
	Held    window `json:"held"`    // every call held

	AriappRSS uint64 `json:"ariapp_rss,omitempty"` // bytes, at the end of the mixed window
	// BusyBefore is the machine's busy share, in percent of all its cores,
	// in the two seconds before the point (no call up).
	BusyBefore float64 `json:"busy_before_pct"`

	// ARIRequests are ariapp's ARI requests in the mixed window, by method
	// and route (with ARILog only).
	ARIRequests map[string]OpStats `json:"ari_requests,omitempty"`

	Broken   string `json:"broken,omitempty"`
	Teardown string `json:"teardown,omitempty"`
}

// Capacity tells whether this point is within capacity: hold latency p99
// (the hold medium's first packet) under the limit, no loss, no gap in the
// stream or the hold tone, every hold heard and resumed, no failed
// operation.
func (r SIPResult) Capacity(maxP99 time.Duration) (bool, string) {
	switch {
	case r.Broken != "":
		return false, "broke: " + r.Broken
	case r.HoldSwitch.Count == 0:
		return false, "no hold measured"
	case r.HoldSwitch.P99 >= float64(maxP99)/float64(time.Millisecond):
		return false, fmt.Sprintf("hold p99 %.0f ms", r.HoldSwitch.P99)
	case r.Health.Lost > 0:
		return false, fmt.Sprintf("%d packets lost", r.Health.Lost)
	case r.Health.Gaps > 0 || r.Health.ToneGaps > 0:
		return false, fmt.Sprintf("%d gaps, %d in the hold tone", r.Health.Gaps, r.Health.ToneGaps)
	case r.Health.NoHoldTone > 0 || r.Health.NoResume > 0:
		return false, fmt.Sprintf("%d holds without tone, %d resumes not heard", r.Health.NoHoldTone, r.Health.NoResume)
	case r.OpErrors > 0:
		return false, fmt.Sprintf("%d operations failed", r.OpErrors)
	}
	return true, ""
}

// sipCall is one call of a point: the caller's and the callee's dialog and
// what each of them hears.
type sipCall struct {
	a, b   *sipphone.Call
	la, lb *leg
	id     string // ariapp's call id
	method string // how it holds
}

// sipPoint is one set-up at one level while it runs.
type sipPoint struct {
	cfg   sipConfig
	setup string
	n     int
	meter *sipMeter
	legs  sync.Map // *sipphone.Call → *leg

	caller, callee *sipphone.Phone
	answered       chan *sipphone.Call
	app            *apiMode
	rest           *ari.Client
	astPID         int
	calls          []*sipCall

	mu       sync.Mutex
	holds    int
	errs     int
	firstErr string
	apiReply []time.Duration
}

func (pt *sipPoint) fail(err error) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	pt.errs++
	if pt.firstErr == "" {
		pt.firstErr = err.Error()
	}
}

func (pt *sipPoint) observe(c *sipphone.Call, p sipphone.Packet) {
	if l, ok := pt.legs.Load(c); ok {
		l.(*leg).observe(p)
	}
}

// runSIP runs every set-up at every level and writes the report.
func runSIP(ctx context.Context, cfg sipConfig) (*SIPReport, error) {
	rep := &SIPReport{
		RunID: strconv.FormatInt(time.Now().Unix(), 36), Started: time.Now().UTC(),
		GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), Config: cfg.summary(),
		MaxP99: float64(cfg.MaxP99) / float64(time.Millisecond),
	}
	rest, err := ari.New(cfg.ARI)
	if err != nil {
		return nil, err
	}
	defer rest.Close()
	if info, err := rest.Info(ctx); err == nil {
		rep.Asterisk = info.System.Version
	}
	astPID, err := asteriskPID()
	if err != nil {
		return nil, fmt.Errorf("finding the Asterisk process: %w", err)
	}
	if cfg.AriappBin == "" && contains(cfg.Setups, SetupAriapp) {
		dir, err := os.MkdirTemp("", "ariapp-bench-sip-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if cfg.AriappBin, err = buildAriapp(ctx, dir); err != nil {
			return nil, err
		}
	}
	stopped := map[string]bool{}
	for _, n := range cfg.Levels {
		for _, setup := range cfg.Setups {
			if stopped[setup] {
				continue
			}
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
			pt := &sipPoint{cfg: cfg, setup: setup, n: n, meter: newSIPMeter(), rest: rest, astPID: astPID}
			busy := waitQuiet(ctx, cfg)
			cfg.Logf("%s, %d calls (machine %.0f%% busy before)", setup, n, busy)
			r := pt.run(ctx)
			r.BusyBefore = busy
			ok, why := r.Capacity(cfg.MaxP99)
			cfg.Logf("%s, %d calls: %s", setup, n, r.line(ok, why))
			rep.Results = append(rep.Results, r)
			if cfg.Out != "" {
				if err := rep.write(cfg.Out); err != nil {
					return rep, err
				}
			}
			if !ok && !cfg.KeepGoing {
				stopped[setup] = true
			}
		}
	}
	rep.finish()
	if cfg.Out != "" {
		return rep, rep.write(cfg.Out)
	}
	return rep, nil
}

// waitQuiet samples the machine's busy share over two seconds until it is
// below cfg.QuietBelow or cfg.QuietWait has passed, and returns the last
// sample, in percent of all cores.
func waitQuiet(ctx context.Context, cfg sipConfig) float64 {
	deadline := time.Now().Add(cfg.QuietWait)
	for {
		b0, a0 := boxJiffies()
		sleepFor(ctx, 2*time.Second)
		b1, a1 := boxJiffies()
		busy := 0.0
		if a1 > a0 {
			busy = 100 * float64(b1-b0) / float64(a1-a0)
		}
		if cfg.QuietBelow <= 0 || busy < cfg.QuietBelow || time.Now().After(deadline) || ctx.Err() != nil {
			return busy
		}
		cfg.Logf("machine %.0f%% busy; waiting for it to quieten below %.0f%%", busy, cfg.QuietBelow)
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (r SIPResult) line(ok bool, why string) string {
	s := fmt.Sprintf("hold p50 %.1f p99 %.1f ms (tone p99 %.1f), resume p50 %.1f p99 %.1f ms; Asterisk %.0f%% (%.2f%%/bridged call, %.2f%%/held call), ariapp %.1f%%, phones %.0f%%, box %.0f%% (others %.0f%%); lost %d (socket drops %d) late %d gaps %d (phone stalls %d) tone gaps %d; %d holds, %d errors",
		r.HoldSwitch.P50, r.HoldSwitch.P99, r.HoldTone.P99, r.Resume.P50, r.Resume.P99,
		r.Mixed.AsteriskTotal, r.Bridged.AsteriskPerCall, r.Held.AsteriskPerCall, r.Mixed.AriappTotal, r.Mixed.PhonesTotal, r.Mixed.BoxBusy, r.Mixed.Others,
		r.Health.Lost, r.Bridged.UDPDrops+r.Mixed.UDPDrops, r.Health.Late, r.Health.Gaps, r.Bridged.PhoneStalls+r.Mixed.PhoneStalls, r.Health.ToneGaps, r.Holds, r.OpErrors)
	if ok {
		return s + ": within capacity"
	}
	return s + ": beyond capacity (" + why + ")"
}

func (pt *sipPoint) run(ctx context.Context) (r SIPResult) {
	r = SIPResult{Setup: pt.setup, Level: pt.n}
	defer func() {
		if err := pt.teardown(ctx); err != nil {
			r.Teardown = err.Error()
		}
	}()
	if err := pt.start(ctx); err != nil {
		r.Broken = err.Error()
		return r
	}
	setupTimes, err := pt.establish(ctx)
	r.Up = len(pt.calls)
	r.SetupTime = newOpStats(setupTimes)
	if err != nil {
		r.Broken = err.Error()
		return r
	}
	sleepFor(ctx, time.Second)

	// Every call bridged.
	pt.meter.count(true)
	m0 := pt.mark()
	sleepFor(ctx, pt.cfg.Phase)
	r.Bridged = pt.window(m0, pt.mark())
	_, bridgedHealth := pt.meter.count(false)

	// The mixed window: HoldShare of the calls on hold at any time.
	pt.meter.count(true)
	if pt.app != nil {
		pt.app.ariRequests()
	}
	m0 = pt.mark()
	pt.cycleAll(ctx, time.Now().Add(pt.cfg.Window))
	m1 := pt.mark()
	if pt.app != nil {
		r.AriappRSS, _ = pt.app.memory()
		if reqs := pt.app.ariRequests(); len(reqs) > 0 {
			r.ARIRequests = map[string]OpStats{}
			for k, v := range reqs {
				r.ARIRequests[k] = newOpStats(v)
			}
		}
	}
	lat, h := pt.meter.count(false)
	r.Mixed = pt.window(m0, m1)
	h.Packets += bridgedHealth.Packets
	h.Lost += bridgedHealth.Lost
	h.Late += bridgedHealth.Late
	h.Gaps += bridgedHealth.Gaps
	r.Health = h
	r.HoldTone = newOpStats(pooled(lat, "hold_tone."))
	r.HoldSwitch = newOpStats(pooled(lat, "hold_switch."))
	r.Resume = newOpStats(pooled(lat, "resume."))
	r.ByMethod = map[string]OpStats{}
	for k, v := range lat {
		r.ByMethod[k] = newOpStats(v)
	}
	pt.mu.Lock()
	r.APIReply = newOpStats(pt.apiReply)
	pt.mu.Unlock()

	// Every call held.
	pt.forAll(func(c *sipCall) { pt.hold(ctx, c) })
	sleepFor(ctx, time.Second)
	m0 = pt.mark()
	sleepFor(ctx, pt.cfg.Phase)
	r.Held = pt.window(m0, pt.mark())
	pt.forAll(func(c *sipCall) { pt.resume(ctx, c) })

	pt.mu.Lock()
	r.Holds, r.OpErrors, r.FirstError = pt.holds, pt.errs, pt.firstErr
	pt.mu.Unlock()
	return r
}

func pooled(lat map[string][]time.Duration, prefix string) []time.Duration {
	var out []time.Duration
	for k, v := range lat {
		if strings.HasPrefix(k, prefix) {
			out = append(out, v...)
		}
	}
	return out
}

func sleepFor(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// start brings up ariapp (for its set-up) and the two phones.
func (pt *sipPoint) start(ctx context.Context) error {
	if pt.setup == SetupAriapp {
		acfg := pt.cfg.ARI
		acfg.Application = sipApp
		pt.app = newAPIMode(pt.cfg.AriappBin, acfg, 15*time.Second)
		if pt.cfg.Media != "" {
			pt.app.env = append(pt.app.env, "ARIAPP_HOLD_MEDIA="+pt.cfg.Media)
		}
		if pt.cfg.ARILog {
			// later entries win over start's ARIAPP_LOG_LEVEL=warn
			pt.app.env = append(pt.app.env, "ARIAPP_LOG_LEVEL=info", "ARIAPP_LOG_ARI_REQUESTS=info")
		}
		if err := pt.app.start(ctx, 0); err != nil {
			return fmt.Errorf("ariapp: %w", err)
		}
	}
	var err error
	pt.caller, err = sipphone.New(ctx, sipphone.Config{User: callerUser, SIPAddr: callerSIP, Server: pt.cfg.Server, ToneHz: callerHz, Observe: pt.observe})
	if err != nil {
		return err
	}
	pt.callee, err = sipphone.New(ctx, sipphone.Config{User: calleeUser, SIPAddr: calleeSIP, Server: pt.cfg.Server, ToneHz: calleeHz, Observe: pt.observe})
	if err != nil {
		return err
	}
	pt.answered = make(chan *sipphone.Call, 16)
	go func() {
		for {
			c, err := pt.callee.Incoming(context.Background())
			if err != nil {
				return
			}
			pt.legs.Store(c, pt.meter.newLeg(callerHz))
			go func() {
				actx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				if err := c.Answer(actx); err != nil {
					pt.fail(fmt.Errorf("callee answer: %w", err))
					return
				}
				pt.answered <- c
			}()
		}
	}()
	return nil
}

// establish sets the calls up one at a time: the callee's answered dialog
// and ariapp's call_answered that follow a Dial are that call's.
func (pt *sipPoint) establish(ctx context.Context) ([]time.Duration, error) {
	exten := "direct-" + calleeUser
	if pt.setup == SetupAriapp {
		exten = "app-" + calleeUser
	}
	var times []time.Duration
	for i := 0; i < pt.n; i++ {
		dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		t0 := time.Now()
		a, err := pt.caller.Dial(dctx, exten)
		cancel()
		if err != nil {
			return times, fmt.Errorf("call %d: dial: %w", i+1, err)
		}
		times = append(times, time.Since(t0))
		c := &sipCall{a: a, la: pt.meter.newLeg(calleeHz), method: byReinvite}
		pt.legs.Store(a, c.la)
		select {
		case c.b = <-pt.answered:
		case <-time.After(10 * time.Second):
			return times, fmt.Errorf("call %d: the callee's dialog did not come up", i+1)
		case <-ctx.Done():
			return times, ctx.Err()
		}
		v, _ := pt.legs.Load(c.b)
		c.lb = v.(*leg)
		if pt.app != nil {
			if c.id, err = pt.app.watch.nthAnswered(ctx, i, 10*time.Second); err != nil {
				return times, fmt.Errorf("call %d: %w", i+1, err)
			}
			if float64(i) < pt.cfg.APIShare*float64(pt.n) {
				c.method = byAPI
			}
		}
		pt.calls = append(pt.calls, c)
	}
	return times, nil
}

func (pt *sipPoint) hold(ctx context.Context, c *sipCall) {
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t0 := time.Now()
	c.lb.held(c.method, t0)
	c.la.holds()
	var err error
	if c.method == byAPI {
		err = pt.apiOp(octx, c.id, "hold")
		pt.mu.Lock()
		pt.apiReply = append(pt.apiReply, time.Since(t0))
		pt.mu.Unlock()
	} else {
		err = c.a.Hold(octx, sipphone.HoldSendonly)
	}
	pt.mu.Lock()
	pt.holds++
	pt.mu.Unlock()
	if err != nil {
		pt.fail(fmt.Errorf("hold (%s): %w", c.method, err))
	}
}

func (pt *sipPoint) resume(ctx context.Context, c *sipCall) {
	octx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	t0 := time.Now()
	c.lb.resumed(c.method, t0)
	c.la.unholds(t0)
	var err error
	if c.method == byAPI {
		err = pt.apiOp(octx, c.id, "unhold")
	} else {
		err = c.a.Unhold(octx)
	}
	if err != nil {
		pt.fail(fmt.Errorf("resume (%s): %w", c.method, err))
	}
}

func (pt *sipPoint) apiOp(ctx context.Context, id, op string) error {
	status, body, err := pt.app.do(ctx, "POST", "/v1/calls/"+id+"/"+op, map[string]string{"party": "caller"})
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("POST /v1/calls/%s/%s: status %d: %s", id, op, status, bytes.TrimSpace(body))
	}
	return nil
}

// cycleAll runs every call's hold/resume cycle until end: a random start
// within its talk time, then hold for HoldShare of a cycle, resume, talk
// for the rest (each ±10%), so about HoldShare of the calls are held at any
// time. Every call ends the window resumed.
func (pt *sipPoint) cycleAll(ctx context.Context, end time.Time) {
	holdFor := time.Duration(pt.cfg.HoldShare * float64(pt.cfg.Cycle))
	talkFor := pt.cfg.Cycle - holdFor
	var wg sync.WaitGroup
	for _, c := range pt.calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			jit := func(d time.Duration) time.Duration { return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64())) }
			sleepFor(ctx, time.Duration(rand.Float64()*float64(talkFor)))
			for ctx.Err() == nil {
				h := jit(holdFor)
				if time.Until(end) < h+200*time.Millisecond {
					return
				}
				pt.hold(ctx, c)
				sleepFor(ctx, h)
				pt.resume(ctx, c)
				t := jit(talkFor)
				if time.Until(end) < t {
					sleepFor(ctx, time.Until(end))
					return
				}
				sleepFor(ctx, t)
			}
		}()
	}
	wg.Wait()
}

// forAll runs f on every call, 32 at a time.
func (pt *sipPoint) forAll(f func(c *sipCall)) {
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for _, c := range pt.calls {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(c)
		}()
	}
	wg.Wait()
}

func (pt *sipPoint) mark() cpuMark {
	m := cpuMark{at: time.Now(), phone: selfCPU()}
	m.asterisk, _ = procCPU(pt.astPID)
	if pt.app != nil {
		m.app = pt.app.cpu()
	}
	m.boxBusy, m.boxAll = boxJiffies()
	m.udpDrops = udpRcvbufErrors()
	m.stalls = pt.caller.SendStalls() + pt.callee.SendStalls()
	return m
}

func (pt *sipPoint) window(a, b cpuMark) window {
	secs := b.at.Sub(a.at).Seconds()
	pct := func(d time.Duration) float64 { return 100 * d.Seconds() / secs }
	w := window{
		Seconds:       secs,
		AsteriskTotal: pct(b.asterisk - a.asterisk),
		AriappTotal:   pct(b.app - a.app),
		PhonesTotal:   pct(b.phone - a.phone),
		UDPDrops:      b.udpDrops - a.udpDrops,
		PhoneStalls:   b.stalls - a.stalls,
	}
	if n := len(pt.calls); n > 0 {
		w.AsteriskPerCall = w.AsteriskTotal / float64(n)
		w.AriappPerCall = w.AriappTotal / float64(n)
	}
	if all := b.boxAll - a.boxAll; all > 0 {
		w.BoxBusy = 100 * float64(b.boxBusy-a.boxBusy) / float64(all)
		ours := (w.AsteriskTotal + w.AriappTotal + w.PhonesTotal) / float64(runtime.NumCPU())
		w.Others = max(w.BoxBusy-ours, 0)
	}
	return w
}

// boxJiffies reads the machine's busy and total CPU time from /proc/stat.
func boxJiffies() (busy, all uint64) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0
	}
	for i, s := range f[1:] {
		v, _ := strconv.ParseUint(s, 10, 64)
		all += v
		if i != 3 && i != 4 { // idle, iowait
			busy += v
		}
	}
	return busy, all
}

// udpRcvbufErrors reads the machine's UDP RcvbufErrors from /proc/net/snmp.
func udpRcvbufErrors() uint64 {
	data, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	var names []string
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "Udp: ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "RcvbufErrors" && i < len(f) {
				v, _ := strconv.ParseUint(f[i], 10, 64)
				return v
			}
		}
	}
	return 0
}

// teardown hangs every call up from the caller's phone, checks Asterisk
// keeps no channel of the benchmark phones (hanging up any it finds), and
// stops the phones and ariapp.
func (pt *sipPoint) teardown(ctx context.Context) error {
	var errs []error
	if len(pt.calls) > 0 {
		var mu sync.Mutex
		pt.forAll(func(c *sipCall) {
			hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := c.a.Hangup(hctx); err != nil && !errors.Is(err, sipphone.ErrEnded) {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	left, err := pt.waitNoChannels(ctx, 20*time.Second)
	if err != nil {
		errs = append(errs, err)
	} else if left > 0 {
		errs = append(errs, fmt.Errorf("%d channels of the benchmark phones left in Asterisk (hung up)", left))
	}
	if pt.caller != nil {
		pt.caller.Close()
	}
	if pt.callee != nil {
		pt.callee.Close()
	}
	if pt.app != nil {
		pt.app.stop()
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d teardown errors, first: %w", len(errs), errs[0])
	}
	return nil
}

// waitNoChannels waits until Asterisk has no channel of the benchmark
// phones; at the deadline it hangs up those left and returns their number.
func (pt *sipPoint) waitNoChannels(ctx context.Context, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		chans, err := pt.rest.Channels(lctx)
		cancel()
		if err != nil {
			return 0, fmt.Errorf("list channels: %w", err)
		}
		var left []ari.Channel
		for _, ch := range chans {
			if strings.HasPrefix(ch.Name, benchChanPfx) {
				left = append(left, ch)
			}
		}
		if len(left) == 0 {
			return 0, nil
		}
		if time.Now().After(deadline) {
			for _, ch := range left {
				hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				_ = pt.rest.Hangup(hctx, ch.ID, ari.HangupNormal)
				cancel()
			}
			return len(left), nil
		}
		sleepFor(ctx, 200*time.Millisecond)
	}
}

// parseSetups reads a comma list of ariapp and asterisk; ariapp runs first
// at each level.
func parseSetups(s string) ([]string, error) {
	var out []string
	parts := strings.Split(s, ",")
	for _, v := range []string{SetupAriapp, SetupAsterisk} {
		if contains(parts, v) {
			out = append(out, v)
		}
	}
	for _, p := range parts {
		if !contains([]string{SetupAriapp, SetupAsterisk}, p) {
			return nil, fmt.Errorf("bad set-up %q: want ariapp or asterisk", p)
		}
	}
	return out, nil
}
