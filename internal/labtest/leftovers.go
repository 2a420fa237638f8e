package labtest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
)

// ExpectNothingLeft fails the test if any of the given channels or bridges
// still exists in Asterisk 5 s from now (hang-ups take a moment: a Local
// channel's other half goes away just after).
func ExpectNothingLeft(t testing.TB, c *ari.Client, channels, bridges []string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := leftovers(c, channels, bridges)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("left in Asterisk after the test: %v", left)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func leftovers(c *ari.Client, channels, bridges []string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var left []string
	chans, err := c.Channels(ctx)
	if err != nil {
		return []string{"list channels: " + err.Error()}
	}
	for _, ch := range chans {
		if slices.Contains(channels, ch.ID) {
			left = append(left, "channel "+ch.ID)
		}
	}
	bs, err := c.Bridges(ctx)
	if err != nil {
		return []string{"list bridges: " + err.Error()}
	}
	for _, b := range bs {
		if slices.Contains(bridges, b.ID) {
			left = append(left, "bridge "+b.ID)
		}
	}
	return left
}
