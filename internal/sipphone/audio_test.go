package sipphone

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestULawRoundTrip(t *testing.T) {
	// Every code decodes to a value that encodes back to a code decoding to
	// the same value (0x7F and 0xFF are both zero).
	for u := 0; u < 256; u++ {
		v := ULawDecode(byte(u))
		if got := ULawDecode(ULawEncode(v)); got != v {
			t.Fatalf("code %#02x: decode %d, re-encoded decodes to %d", u, v, got)
		}
	}
	// Known values of G.711.
	for _, tc := range []struct {
		s int16
		u byte
	}{{0, 0xFF}, {-1, 0x7F}, {32767, 0x80}, {-32768, 0x00}, {8, 0xFE}} {
		if got := ULawEncode(tc.s); got != tc.u {
			t.Errorf("ULawEncode(%d) = %#02x, want %#02x", tc.s, got, tc.u)
		}
	}
	if got := ULawDecode(0x80); got != 32124 {
		t.Errorf("ULawDecode(0x80) = %d, want 32124", got)
	}
	// Encoding then decoding keeps every sample within its segment's step.
	for s := -32768; s <= 32767; s += 7 {
		got := int(ULawDecode(ULawEncode(int16(s))))
		errAbs := math.Abs(float64(got - s))
		limit := max(float64(abs(s))/16, 8)
		if abs(s) > ulawClip {
			limit = float64(abs(s)-ulawClip) + 1100
		}
		if errAbs > limit {
			t.Fatalf("sample %d → %d: error %v > %v", s, got, errAbs, limit)
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// synth makes n samples of the sum of sines (hz, amplitude) pairs,
// quantised through µ-law like everything a phone receives.
func synth(n int, tones ...[2]float64) []int16 {
	out := make([]int16, n)
	for i := range out {
		var v float64
		for _, tn := range tones {
			v += tn[1] * math.Sin(2*math.Pi*tn[0]*float64(i)/SampleRate+0.3)
		}
		out[i] = ULawDecode(ULawEncode(int16(math.Round(v))))
	}
	return out
}

func TestToneDetection(t *testing.T) {
	pure440 := synth(SamplesPerPacket, [2]float64{440, 8000})
	pure700 := synth(SamplesPerPacket, [2]float64{700, 8000})
	mixed := synth(SamplesPerPacket, [2]float64{700, 6000}, [2]float64{1300, 6000})
	quiet := synth(SamplesPerPacket, [2]float64{440, 40})
	silence := make([]int16, SamplesPerPacket)
	for _, tc := range []struct {
		name     string
		pcm      []int16
		hz       float64
		min, max float64
		present  bool
	}{
		{"440 at 440", pure440, 440, 0.95, 1, true},
		{"440 at 700", pure440, 700, 0, 0.01, false},
		{"700 at 700", pure700, 700, 0.95, 1, true},
		{"700 at 440", pure700, 440, 0, 0.01, false},
		{"700 at 1300", pure700, 1300, 0, 0.01, false},
		{"silence at 440", silence, 440, 0, 0, false},
		{"mixed 700+1300 at 700", mixed, 700, 0.4, 0.6, false},
		{"mixed 700+1300 at 1300", mixed, 1300, 0.4, 0.6, false},
		{"mixed 700+1300 at 440", mixed, 440, 0, 0.01, false},
		{"quiet 440 at 440", quiet, 440, 0.8, 1, false}, // the right tone, but below SilenceRMS
	} {
		got := Tone(tc.pcm, tc.hz)
		if got < tc.min || got > tc.max {
			t.Errorf("%s: Tone = %.4f, want [%v, %v]", tc.name, got, tc.min, tc.max)
		}
		if strings.HasPrefix(tc.name, "mixed") {
			continue // two equal tones sit on the threshold: neither dominates
		}
		if p := Present(tc.pcm, tc.hz); p != tc.present {
			t.Errorf("%s: Present = %v, want %v (Tone %.3f, RMS %.1f)", tc.name, p, tc.present, got, RMS(tc.pcm))
		}
	}
	if Tone(nil, 440) != 0 {
		t.Error("Tone(nil) != 0")
	}
	// A louder tone dominating a quieter one still counts as present.
	dom := synth(SamplesPerPacket, [2]float64{700, 8000}, [2]float64{1300, 2000})
	if !Present(dom, 700) || Present(dom, 1300) {
		t.Errorf("700 loud + 1300 quiet: Present(700)=%v Present(1300)=%v", Present(dom, 700), Present(dom, 1300))
	}
}

// The repeated packet of a sine with whole periods per packet is what the
// sine itself gives packet after packet.
func TestSineRepeatsWholePeriods(t *testing.T) {
	for _, hz := range []float64{700, 1000, 1300} {
		t.Run(fmt.Sprint(hz), func(t *testing.T) {
			g := sine{hz: hz, amp: toneAmplitude}
			buf := make([]byte, SamplesPerPacket)
			for n := range 5 {
				g.next(buf)
				if g.repeat == nil {
					t.Fatal("no repeated packet for a whole number of periods")
				}
				ref := sine{hz: hz, amp: toneAmplitude, phase: math.Mod(2*math.Pi*hz*float64(n*SamplesPerPacket)/SampleRate, 2*math.Pi)}
				want := make([]byte, SamplesPerPacket)
				ref.next(want)
				diff := 0
				for i := range buf {
					if d := int(ULawDecode(buf[i])) - int(ULawDecode(want[i])); d > 64 || d < -64 {
						diff++
					}
				}
				if diff > 0 {
					t.Errorf("packet %d: %d samples differ from the computed sine", n, diff)
				}
			}
		})
	}
	g := sine{hz: 440, amp: toneAmplitude}
	g.next(make([]byte, SamplesPerPacket))
	if g.repeat != nil {
		t.Error("440 Hz (no whole number of periods per packet) repeats a packet")
	}
}

func TestSineIsContinuous(t *testing.T) {
	g := sine{hz: 700, amp: toneAmplitude}
	buf := make([]byte, SamplesPerPacket)
	var pcm []int16
	for range 3 {
		g.next(buf)
		for _, u := range buf {
			pcm = append(pcm, ULawDecode(u))
		}
	}
	// Across packet boundaries the tone has no phase jump: the whole 60 ms
	// is one clean 700 Hz sine, and so is a window straddling a boundary.
	if s := Tone(pcm, 700); s < 0.97 {
		t.Errorf("Tone over 3 packets = %.3f", s)
	}
	if s := Tone(pcm[80:240], 700); s < 0.97 {
		t.Errorf("Tone across a boundary = %.3f", s)
	}
}

func TestRecording(t *testing.T) {
	r := newRecording()
	t0 := time.Now()
	tone := synth(SamplesPerPacket, [2]float64{1300, 8000})
	other := synth(SamplesPerPacket, [2]float64{700, 8000})
	for i := range 10 {
		pcm := other
		if i >= 4 {
			pcm = tone
		}
		r.add(Packet{At: t0.Add(time.Duration(i) * 20 * time.Millisecond), Seq: uint16(i), PT: 0, PCM: pcm})
	}
	r.add(Packet{At: t0.Add(205 * time.Millisecond), PT: 101, Payload: []byte{5, 10, 0, 160}})
	if n := len(r.Packets(time.Time{}, time.Time{})); n != 11 {
		t.Fatalf("Packets = %d, want 11", n)
	}
	if n := len(r.Packets(t0.Add(40*time.Millisecond), t0.Add(100*time.Millisecond))); n != 3 {
		t.Errorf("window [40ms,100ms) has %d packets, want 3", n)
	}
	if f := r.Hears(time.Time{}, time.Time{}, 1300); math.Abs(f-0.6) > 1e-9 {
		t.Errorf("Hears(1300) = %v, want 0.6 (the telephone-event packet does not count)", f)
	}
	if f := r.Hears(t0.Add(time.Second), time.Time{}, 1300); f != 0 {
		t.Errorf("Hears on an empty window = %v", f)
	}
	at, ok := r.FirstHeard(t0, 1300)
	if !ok || !at.Equal(t0.Add(80*time.Millisecond)) {
		t.Errorf("FirstHeard = %v %v, want t0+80ms", at.Sub(t0), ok)
	}
	if _, ok := r.FirstHeard(t0, 440); ok {
		t.Error("FirstHeard(440) found something")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	go func() {
		time.Sleep(20 * time.Millisecond)
		r.add(Packet{At: t0.Add(time.Second), PT: 0, PCM: synth(SamplesPerPacket, [2]float64{440, 8000})})
	}()
	at, err := r.WaitHeard(ctx, t0, 440)
	if err != nil || !at.Equal(t0.Add(time.Second)) {
		t.Errorf("WaitHeard = %v %v", at.Sub(t0), err)
	}
}

// TestBursts: separate bursts of a tone are counted whether silence,
// another tone or a pause in the packets lies between them.
func TestBursts(t *testing.T) {
	tone := synth(SamplesPerPacket, [2]float64{1800, 8000})
	other := synth(SamplesPerPacket, [2]float64{440, 8000})
	silence := make([]int16, SamplesPerPacket)
	for _, tt := range []struct {
		name string
		// one letter per 20 ms: T the tone, o another tone, s silence,
		// _ no packet
		pattern string
		want    []int // packet index of each burst's start
	}{
		{"none", "ooosss", nil},
		{"one", "sTTTs", []int{1}},
		{"apart by silence", "TTsTT", []int{0, 3}},
		{"apart by another tone", "TToTTT", []int{0, 3}},
		{"apart by a pause", "TT______TT", []int{0, 8}},
		{"a short pause keeps one burst", "TT___TT", []int{0}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRecording()
			t0 := time.Now()
			for i, c := range tt.pattern {
				pcm := map[rune][]int16{'T': tone, 'o': other, 's': silence}[c]
				if pcm != nil {
					r.add(Packet{At: t0.Add(time.Duration(i) * 20 * time.Millisecond), PT: 0, PCM: pcm})
				}
			}
			got := r.Bursts(time.Time{}, time.Time{}, 1800)
			var idx []int
			for _, at := range got {
				idx = append(idx, int(at.Sub(t0)/(20*time.Millisecond)))
			}
			if !slices.Equal(idx, tt.want) {
				t.Fatalf("bursts at packets %v, want %v", idx, tt.want)
			}
		})
	}
}

// TestRecordingWaitSteady: a lone packet of the tone is not enough; n in a
// row are, and the first of them is returned.
func TestRecordingWaitSteady(t *testing.T) {
	r := newRecording()
	t0 := time.Now()
	tone := synth(SamplesPerPacket, [2]float64{440, 8000})
	other := synth(SamplesPerPacket, [2]float64{1000, 8000})
	for i, pcm := range [][]int16{other, tone, other, tone, tone, other, tone, tone, tone, tone} {
		r.add(Packet{At: t0.Add(time.Duration(i) * 20 * time.Millisecond), PT: 0, PCM: pcm})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	at, err := r.WaitSteady(ctx, t0, 440, 3)
	if err != nil || !at.Equal(t0.Add(120*time.Millisecond)) {
		t.Errorf("WaitSteady(3) = %v %v, want t0+120ms", at.Sub(t0), err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := r.WaitSteady(short, t0, 440, 5); err == nil {
		t.Error("WaitSteady(5) found a run of 5")
	}
}

// TestRecordingOther: audio that is neither silence nor one of the named
// tones counts as other; a tone not named counts too.
func TestRecordingOther(t *testing.T) {
	r := newRecording()
	t0 := time.Now()
	noise := make([]int16, SamplesPerPacket)
	seed := uint32(1)
	for i := range noise {
		seed = seed*1664525 + 1013904223
		noise[i] = int16(seed>>16) / 4
	}
	for i, pcm := range [][]int16{
		synth(SamplesPerPacket, [2]float64{440, 8000}),
		synth(SamplesPerPacket, [2]float64{620, 8000}),
		make([]int16, SamplesPerPacket), // silence
		noise,
		synth(SamplesPerPacket, [2]float64{1000, 8000}),
	} {
		r.add(Packet{At: t0.Add(time.Duration(i) * 20 * time.Millisecond), PT: 0, PCM: pcm})
	}
	if f := r.Other(time.Time{}, time.Time{}, 440, 620); math.Abs(f-0.4) > 1e-9 {
		t.Errorf("Other(440, 620) = %v, want 0.4 (noise and the 1000 Hz tone)", f)
	}
	if f := r.Other(time.Time{}, time.Time{}, 440, 620, 1000); math.Abs(f-0.2) > 1e-9 {
		t.Errorf("Other(440, 620, 1000) = %v, want 0.2 (the noise)", f)
	}
	if f := r.Other(t0.Add(time.Second), time.Time{}); f != 0 {
		t.Errorf("Other on an empty window = %v", f)
	}
}

func TestRTPParse(t *testing.T) {
	b := make([]byte, 12+4)
	putRTPHeader(b, true, 101, 0xBEEF, 123456, 0xCAFEBABE)
	copy(b[12:], []byte{5, 0x8A, 0x03, 0x20})
	p, ok := parseRTP(b, time.Unix(1, 0))
	if !ok || !p.Marker || p.PT != 101 || p.Seq != 0xBEEF || p.Timestamp != 123456 || p.SSRC != 0xCAFEBABE || len(p.Payload) != 4 || p.PCM != nil {
		t.Fatalf("parse = %+v %v", p, ok)
	}
	if _, ok := parseRTP(b[:11], time.Time{}); ok {
		t.Error("short packet accepted")
	}
	b[0] = 0x40 // version 1
	if _, ok := parseRTP(b, time.Time{}); ok {
		t.Error("RTP version 1 accepted")
	}
	// PCMU payload is decoded.
	a := make([]byte, 12+SamplesPerPacket)
	putRTPHeader(a, false, 0, 1, 160, 1)
	for i := range a[12:] {
		a[12+i] = ULawEncode(1000)
	}
	p, ok = parseRTP(a, time.Time{})
	if !ok || len(p.PCM) != SamplesPerPacket || p.Payload != nil || p.PCM[0] < 900 || p.PCM[0] > 1100 {
		t.Fatalf("PCMU parse = len %d %v", len(p.PCM), ok)
	}
}

func TestDTMFJob(t *testing.T) {
	j := &dtmfJob{events: []byte{5, 11}, done: make(chan error, 1)}
	type pk struct {
		event, marker, end bool
		dur                uint16
		ts                 uint32
	}
	var got []pk
	ts := uint32(1000)
	for range 100 {
		ev, isEvent, m, evTS, fin := j.step(ts)
		got = append(got, pk{isEvent, m, ev[1]&0x80 != 0, uint16(ev[2])<<8 | uint16(ev[3]), evTS})
		ts += SamplesPerPacket
		if fin {
			break
		}
	}
	// digit 1: 5 growing packets + 3 end packets; 5 audio packets; digit 2 the same.
	if want := 2*(digitPackets+endRepeats) + gapPackets; len(got) != want {
		t.Fatalf("%d ticks, want %d: %+v", len(got), want, got)
	}
	for i, g := range got[:digitPackets] {
		if !g.event || g.marker != (i == 0) || g.end || g.dur != uint16((i+1)*160) || g.ts != 1000 {
			t.Errorf("tick %d = %+v", i, g)
		}
	}
	for i, g := range got[digitPackets : digitPackets+endRepeats] {
		if !g.event || !g.end || g.dur != 800 || g.ts != 1000 {
			t.Errorf("end tick %d = %+v", i, g)
		}
	}
	for i, g := range got[digitPackets+endRepeats : digitPackets+endRepeats+gapPackets] {
		if g.event {
			t.Errorf("gap tick %d = %+v", i, g)
		}
	}
	second := got[digitPackets+endRepeats+gapPackets:]
	if !second[0].marker || second[0].ts != 1000+13*160 {
		t.Errorf("second digit starts with %+v", second[0])
	}
	if ev, ok := dtmfEvent('#'); !ok || ev != 11 {
		t.Errorf("# = %d %v", ev, ok)
	}
	if err := validDigits("12x"); err == nil {
		t.Error("x accepted as a digit")
	}
}
