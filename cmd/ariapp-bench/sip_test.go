package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ariapp/ariapp/internal/labtest"
)

// TestSoloLabSIPSmoke runs the SIP mode's smallest version against the lab,
// as CI does to keep it working: 5 real SIP calls through ariapp and through
// Asterisk alone for a few seconds. It checks that the phones measured
// something sane (every hold heard, latencies positive and bounded, CPU
// counted, nothing left in Asterisk), not how fast anything is.
func TestSoloLabSIPSmoke(t *testing.T) {
	requireSolo(t)
	acfg := labtest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	bin, err := buildAriapp(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cfg := sipConfig{
		Levels: []int{5}, Setups: []string{SetupAriapp, SetupAsterisk},
		Window: 8 * time.Second, Phase: time.Second, HoldShare: 0.5, Cycle: 6 * time.Second, APIShare: 0.5,
		MaxP99: 60 * time.Millisecond, KeepGoing: true, Server: "127.0.0.1:5060", Out: out, AriappBin: bin,
		ARI: acfg, Logf: t.Logf,
	}
	// Holds of 3 s: Asterisk's files-mode music on hold resumes a channel's
	// file where it left it, and its pause is 2.5 s long.
	rep, err := runSIP(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 {
		t.Fatalf("%d results, want 2", len(rep.Results))
	}
	for _, r := range rep.Results {
		t.Run(r.Setup, func(t *testing.T) {
			if r.Broken != "" || r.Teardown != "" || r.OpErrors != 0 {
				t.Fatalf("broken %q, teardown %q, %d errors (%s)", r.Broken, r.Teardown, r.OpErrors, r.FirstError)
			}
			if r.Up != 5 || r.Holds < 5 {
				t.Errorf("%d calls up, %d holds; want 5 and at least 5", r.Up, r.Holds)
			}
			// Loose bounds: a busy CI machine may be slow, never absurd.
			for name, s := range map[string]OpStats{"hold": r.HoldSwitch, "resume": r.Resume} {
				if s.Count == 0 || !(s.P50 > 0 && s.P50 <= s.P99 && s.P99 <= s.Max && s.Max < 5000) {
					t.Errorf("%s latency implausible: %+v", name, s)
				}
			}
			if r.Health.Packets == 0 || r.Health.HeldPackets == 0 || r.Health.HeldTone == 0 || r.Health.NoHoldTone != 0 {
				t.Errorf("audio at the phones: %+v", r.Health)
			}
			if r.Bridged.AsteriskTotal <= 0 || r.Held.AsteriskTotal <= 0 || r.Mixed.PhonesTotal <= 0 {
				t.Errorf("CPU not measured: bridged %+v held %+v mixed %+v", r.Bridged, r.Held, r.Mixed)
			}
			if r.Setup == SetupAriapp {
				if r.AriappRSS == 0 || r.Mixed.AriappTotal <= 0 || r.ByMethod["hold_tone.api"].Count == 0 || r.ByMethod["hold_tone.reinvite"].Count == 0 {
					t.Errorf("ariapp: RSS %d, CPU %.2f%%, holds by method %v", r.AriappRSS, r.Mixed.AriappTotal, r.ByMethod)
				}
			}
		})
	}
	data, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var back SIPReport
	if err := json.Unmarshal(data, &back); err != nil || len(back.Results) != 2 {
		t.Fatalf("results.json does not read back (%v)", err)
	}
	md, err := os.ReadFile(filepath.Join(out, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 5 | ariapp |", "| 5 | asterisk |", "## Capacity", "## By hold method"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("results.md lacks %q", want)
		}
	}
	checkPNG(t, filepath.Join(out, "capacity.png"))
}
