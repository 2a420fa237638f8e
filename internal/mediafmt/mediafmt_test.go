package mediafmt_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
	"github.com/ariapp/ariapp/internal/mediafmt"
)

// TestProblem: the formats below are what the lab's Asterisk 22 reports
// (CHANNEL() through ARI, the same as `core show channel`) for Local
// channels with and without formats=ulaw on the originate.
func TestProblem(t *testing.T) {
	for _, tc := range []struct {
		name                string
		native, read, write string
		want                string // substring of the problem; "" for none
	}{
		{"bridged ulaw", "(ulaw)", "ulaw", "ulaw", ""},
		{"tone on ulaw: encoded, not resampled", "(ulaw)", "ulaw", "slin", ""},
		{"slin192 leg, no tone", "(slin192)", "slin192", "slin192", ""},
		{"tone on slin192: resampled", "(slin192)", "slin192", "slin", "resample slin (8000 Hz) to slin192 (192000 Hz)"},
		{"16 kHz written to ulaw", "(ulaw)", "ulaw", "slin16", "resample"},
		{"read translated", "(ulaw)", "slin", "ulaw", "reads translate ulaw to slin"},
		{"alaw written to ulaw", "(ulaw)", "ulaw", "alaw", "writes translate alaw to ulaw"},
		{"one of several native", "(ulaw|alaw)", "alaw", "alaw", ""},
		{"unknown format", "(ulaw)", "ulaw", "foo", "writes translate foo to ulaw"},
		{"no native format", "(nothing)", "ulaw", "ulaw", "no native audio format"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mediafmt.Formats{Channel: "c", Native: tc.native, Read: tc.read, Write: tc.write}.Problem()
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("Problem() = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLabLocalFormats checks the rule against the lab's Asterisk: a Local
// channel whose far end plays a tone (talk) is resampled when originated
// without formats, and only encoded with formats=ulaw.
func TestLabLocalFormats(t *testing.T) {
	cfg := labtest.Require(t)
	c, err := ari.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		formats     string
		wantProblem bool
	}{{"", true}, {"ulaw", false}} {
		t.Run("formats="+tc.formats, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			id := "mf-" + labtest.ID()
			ids := []string{id, id + "-2"}
			defer labtest.ExpectNothingLeft(t, c, ids, nil)
			defer func() { _ = c.Hangup(context.Background(), id, ari.HangupNormal) }()
			// ;1 runs the silent idle extension, ;2 the talk one (Playtones).
			if _, err := c.Originate(ctx, ari.OriginateParams{
				Endpoint: "Local/talk@" + labtest.TestContext, ChannelID: id, OtherChannelID: id + "-2",
				Extension: "idle", Context: labtest.TestContext, Priority: 1, Formats: tc.formats,
			}); err != nil {
				t.Fatal(err)
			}
			// Playtones starts just after the answer: wait for its write format.
			var f mediafmt.Formats
			for deadline := time.Now().Add(5 * time.Second); ; {
				f, err = mediafmt.Of(ctx, c, id+"-2")
				if err == nil && f.Write == "slin" || time.Now().After(deadline) {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Write != "slin" {
				t.Fatalf("the talk half does not write signed linear (its tone): %v", f)
			}
			if p := f.Problem(); (p != "") != tc.wantProblem {
				t.Fatalf("talk half %v: problem %q, want one: %v", f, p, tc.wantProblem)
			}
			first, err := mediafmt.Of(ctx, c, id)
			if err != nil {
				t.Fatal(err)
			}
			if p := first.Problem(); p != "" {
				t.Fatalf("silent half: %s", p)
			}
		})
	}
}
