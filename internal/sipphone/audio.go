package sipphone

import (
	"context"
	"math"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// SampleRate is the only audio rate a phone speaks: G.711 µ-law at 8 kHz.
const SampleRate = 8000

// SamplesPerPacket is the number of samples in one 20 ms RTP packet.
const SamplesPerPacket = SampleRate / 50

// Detection thresholds used by Present, Recording.Hears and
// Recording.FirstHeard.
const (
	// ToneThreshold is the Tone score above which a frequency "dominates"
	// a packet: more than half of the packet's power lies at it.
	ToneThreshold = 0.5
	// SilenceRMS is the RMS level (16-bit linear scale, full scale 32767)
	// below which a packet counts as silence (about -54 dBFS). µ-law
	// silence from Asterisk decodes to 0 or ±8.
	SilenceRMS = 64.0
)

// µ-law (G.711) constants.
const (
	ulawBias = 0x84
	ulawClip = 32635
)

// ULawEncode encodes one 16-bit linear sample as G.711 µ-law.
func ULawEncode(s int16) byte {
	x := int(s)
	sign := 0
	if x < 0 {
		x = -x
		sign = 0x80
	}
	if x > ulawClip {
		x = ulawClip
	}
	x += ulawBias
	exp := 7
	for mask := 0x4000; x&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (x >> (exp + 3)) & 0x0F
	return ^byte(sign | exp<<4 | mant)
}

// ULawDecode decodes one G.711 µ-law byte to a 16-bit linear sample.
func ULawDecode(u byte) int16 {
	u = ^u
	exp := int(u>>4) & 7
	x := ((int(u&0x0F) << 3) + ulawBias) << exp
	x -= ulawBias
	if u&0x80 != 0 {
		return int16(-x)
	}
	return int16(x)
}

// RMS is the root mean square of the samples (0 for none).
func RMS(pcm []int16) float64 {
	if len(pcm) == 0 {
		return 0
	}
	var e float64
	for _, v := range pcm {
		f := float64(v)
		e += f * f
	}
	return math.Sqrt(e / float64(len(pcm)))
}

// Tone measures how much of the samples' power lies at hz, with a Goertzel
// filter over a Hann window.
//
// Normalisation: the score is |X(hz)|² divided by what a pure sine at hz of
// the same total power would give, i.e. 8·|X_w(hz)|² / (N·Σx²) for a Hann
// window w (Σw = N/2). So it is the fraction of the signal's power inside the
// filter's main lobe around hz (±2 bins = ±100 Hz for a 160-sample packet):
// a pure sine at hz scores ≈ 1, two equally loud tones 0.5 each, silence 0
// and a tone more than ~120 Hz away ≈ 0. The result is clamped to [0, 1];
// it does not depend on the level, so combine it with a silence threshold
// (see Present). The samples are taken as 8 kHz.
func Tone(pcm []int16, hz float64) float64 {
	n := len(pcm)
	if n == 0 {
		return 0
	}
	w := 2 * math.Pi * hz / SampleRate
	coeff := 2 * math.Cos(w)
	var s1, s2, energy float64
	for i, v := range pcm {
		f := float64(v)
		energy += f * f
		win := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n))
		s0 := f*win + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	if energy == 0 {
		return 0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2
	score := 8 * power / (float64(n) * energy)
	return min(max(score, 0), 1)
}

// Present reports whether hz dominates the samples: they are louder than
// SilenceRMS and Tone(pcm, hz) > ToneThreshold.
func Present(pcm []int16, hz float64) bool {
	return RMS(pcm) >= SilenceRMS && Tone(pcm, hz) > ToneThreshold
}

// Packet is one RTP packet as the phone received it.
type Packet struct {
	At        time.Time      // arrival time (local clock)
	Src       netip.AddrPort // the sender's address
	Seq       uint16         // RTP sequence number
	PT        uint8          // RTP payload type
	Marker    bool           // RTP marker bit
	Timestamp uint32         // RTP timestamp
	SSRC      uint32         // RTP synchronisation source
	PCM       []int16        // the payload decoded from µ-law, for PT 0 only
	Payload   []byte         // the raw payload, for every other payload type
}

// Recording is everything a call received on its phone's RTP port. It is
// safe for concurrent use; it keeps growing while the call's media runs.
type Recording struct {
	mu      sync.Mutex
	packets []Packet
	changed chan struct{} // closed and replaced on every append
}

func newRecording() *Recording {
	return &Recording{changed: make(chan struct{})}
}

func (r *Recording) add(p Packet) {
	r.mu.Lock()
	r.packets = append(r.packets, p)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Packets returns the packets that arrived in [from, to); a zero from or to
// leaves that side open.
func (r *Recording) Packets(from, to time.Time) []Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Packet
	for _, p := range r.packets {
		if inWindow(p.At, from, to) {
			out = append(out, p)
		}
	}
	return out
}

func inWindow(t, from, to time.Time) bool {
	return (from.IsZero() || !t.Before(from)) && (to.IsZero() || t.Before(to))
}

// Hears returns the fraction of the µ-law packets that arrived in
// [from, to) (zero times leave a side open) in which hz is Present. Packets
// that never arrived do not count: a window with no audio at all is 0.
func (r *Recording) Hears(from, to time.Time, hz float64) float64 {
	var n, yes int
	for _, p := range r.Packets(from, to) {
		if p.PT != 0 || len(p.PCM) == 0 {
			continue
		}
		n++
		if Present(p.PCM, hz) {
			yes++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(yes) / float64(n)
}

// BurstGap is the longest pause inside one burst of a tone (Bursts): a
// party alone in a bridge receives no RTP between two playbacks, so a
// pause in the packets ends a burst as much as a packet without the tone.
const BurstGap = 100 * time.Millisecond

// Bursts returns the start times of the separate bursts of hz in the µ-law
// packets that arrived in [from, to): runs of packets in which hz is
// Present, ended by a packet without it or by a pause longer than
// BurstGap.
func (r *Recording) Bursts(from, to time.Time, hz float64) []time.Time {
	var starts []time.Time
	var last time.Time
	in := false
	for _, p := range r.Packets(from, to) {
		if p.PT != 0 || len(p.PCM) == 0 {
			continue
		}
		if in && p.At.Sub(last) > BurstGap {
			in = false
		}
		switch on := Present(p.PCM, hz); {
		case on && !in:
			starts = append(starts, p.At)
			in = true
		case !on:
			in = false
		}
		last = p.At
	}
	return starts
}

// Other returns the fraction of the µ-law packets that arrived in
// [from, to) that are louder than SilenceRMS with none of the tones
// Present: audio that is neither silence nor a known tone, such as a
// recorded voice. A window with no audio at all is 0.
func (r *Recording) Other(from, to time.Time, tones ...float64) float64 {
	var n, yes int
	for _, p := range r.Packets(from, to) {
		if p.PT != 0 || len(p.PCM) == 0 {
			continue
		}
		n++
		if RMS(p.PCM) >= SilenceRMS && !slices.ContainsFunc(tones, func(hz float64) bool { return Present(p.PCM, hz) }) {
			yes++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(yes) / float64(n)
}

// FirstHeard returns the arrival time of the first µ-law packet at or after
// after in which hz is Present.
func (r *Recording) FirstHeard(after time.Time, hz float64) (time.Time, bool) {
	t, ok, _ := r.firstHeard(after, hz)
	return t, ok
}

func (r *Recording) firstHeard(after time.Time, hz float64) (time.Time, bool, <-chan struct{}) {
	r.mu.Lock()
	pkts, changed := r.packets, r.changed
	r.mu.Unlock()
	// packets is append-only, so the prefix we copied the header of is stable.
	for _, p := range pkts {
		if p.PT == 0 && !p.At.Before(after) && Present(p.PCM, hz) {
			return p.At, true, changed
		}
	}
	return time.Time{}, false, changed
}

// WaitHeard waits until hz is Present in a packet that arrived at or after
// after, and returns that packet's arrival time; it returns ctx's error if
// that does not happen in time.
func (r *Recording) WaitHeard(ctx context.Context, after time.Time, hz float64) (time.Time, error) {
	for {
		t, ok, changed := r.firstHeard(after, hz)
		if ok {
			return t, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// WaitSteady is WaitHeard for a tone that must last: it waits until hz is
// Present in n µ-law packets in a row (n·20 ms) that arrived at or after
// after, and returns the first one's arrival time. A voice or music can
// have a single packet that a tone's frequency dominates; a tone has many
// in a row.
func (r *Recording) WaitSteady(ctx context.Context, after time.Time, hz float64, n int) (time.Time, error) {
	for {
		r.mu.Lock()
		pkts, changed := r.packets, r.changed
		r.mu.Unlock()
		var start time.Time
		run := 0
		for _, p := range pkts {
			if p.PT != 0 || p.At.Before(after) {
				continue
			}
			if !Present(p.PCM, hz) {
				run = 0
				continue
			}
			if run == 0 {
				start = p.At
			}
			if run++; run >= n {
				return start, nil
			}
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
}

// Len is the number of packets recorded so far.
func (r *Recording) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.packets)
}

// sine generates a continuous-phase sine, SamplesPerPacket samples at a time.
type sine struct {
	hz, amp, phase float64
	started        bool
	repeat         []byte // every packet, when a whole number of periods fits one
}

// next returns the next 20 ms of the sine as µ-law. A sine with a whole
// number of periods per packet (hz a multiple of 50) repeats the same packet,
// which is computed once: a load test's hundreds of calls then cost no
// sine per sample.
func (s *sine) next(buf []byte) {
	if s.repeat != nil && len(buf) == len(s.repeat) {
		copy(buf, s.repeat)
		return
	}
	step := 2 * math.Pi * s.hz / SampleRate
	for i := range buf {
		buf[i] = ULawEncode(int16(math.Round(s.amp * math.Sin(s.phase))))
		s.phase += step
		if s.phase > 2*math.Pi {
			s.phase -= 2 * math.Pi
		}
	}
	if !s.started && len(buf) == SamplesPerPacket && math.Mod(s.hz*SamplesPerPacket, SampleRate) == 0 {
		s.repeat = append([]byte(nil), buf...)
	}
	s.started = true
}
