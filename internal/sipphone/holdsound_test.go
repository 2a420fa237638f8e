package sipphone

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var writeHoldSound = flag.Bool("write-hold-sound", false, "write asterisk/sounds/ariapp/hold-440.ulaw before checking it")

// holdSoundPath is the hold tone as a sound file for Asterisk (raw µ-law):
// the lab and the compose image install it as sounds/ariapp/hold-440.
var holdSoundPath = filepath.Join("..", "..", "asterisk", "sounds", "ariapp", "hold-440.ulaw")

// holdSound is one period of ariapp's default tone, 440/500|0/2500: 0.5 s
// of 440 Hz, then 2.5 s of silence (µ-law 0xFF), 8 kHz.
func holdSound() []byte {
	out := make([]byte, 0, 3*SampleRate)
	g := sine{hz: 440, amp: toneAmplitude}
	buf := make([]byte, SamplesPerPacket)
	for range 25 { // 500 ms
		g.next(buf)
		out = append(out, buf...)
	}
	for len(out) < 3*SampleRate {
		out = append(out, ULawEncode(0))
	}
	return out
}

// TestHoldSoundFile checks the shipped file is the tone's cadence: 440 Hz in
// each of the first 25 packets, silence in the 125 after (go test -run
// TestHoldSoundFile -args -write-hold-sound rewrites it).
func TestHoldSoundFile(t *testing.T) {
	if *writeHoldSound {
		if err := os.WriteFile(holdSoundPath, holdSound(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(holdSoundPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 3*SampleRate {
		t.Fatalf("%d bytes, want %d (3 s at 8 kHz)", len(b), 3*SampleRate)
	}
	for i := 0; i < len(b)/SamplesPerPacket; i++ {
		pcm := make([]int16, SamplesPerPacket)
		for j := range pcm {
			pcm[j] = ULawDecode(b[i*SamplesPerPacket+j])
		}
		on := i < 25
		if got := Present(pcm, 440); got != on {
			t.Errorf("packet %d (%d ms): 440 Hz present %v, want %v", i, i*20, got, on)
		}
		if !on && RMS(pcm) > 0 {
			t.Errorf("packet %d (%d ms): RMS %.1f, want silence", i, i*20, RMS(pcm))
		}
	}
}
