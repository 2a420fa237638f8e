package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/mediafmt"
)

// mediaCalls is how many live calls the media check looks at.
const mediaCalls = 5

// mediaCheck is what the media check found.
type mediaCheck struct {
	// Calls is the number of calls whose two legs were read.
	Calls int `json:"calls"`
	// Formats lists the legs' formats as read.
	Formats []string `json:"formats"`
	// Problems lists needless translations, and calls whose two legs do
	// not speak the same codec.
	Problems []string `json:"problems,omitempty"`
}

// checkMedia reads, through ARI, the audio formats of both legs of up to
// mediaCalls answered calls of the run (ariapp names them CALL-caller and
// CALL-callee): both legs must speak the same codec, and Asterisk must
// translate nothing needlessly on either (mediafmt: no read translation, no
// resampling; a hold tone encoded at the channel's own rate is allowed).
// Calls that end meanwhile are skipped.
func checkMedia(ariC *ari.Client, tr *tracker, ta *tally) mediaCheck {
	var mc mediaCheck
	ta.mu.Lock()
	ids := append([]string(nil), ta.placed...)
	ta.mu.Unlock()
	for i := len(ids) - 1; i >= 0 && mc.Calls < mediaCalls; i-- {
		ct := tr.get(ids[i])
		if !closed(ct.answered) || closed(ct.ended) {
			continue
		}
		legs, err := readLegs(ariC, ids[i])
		if errors.Is(err, ari.ErrNotFound) {
			continue // ended meanwhile
		}
		if err != nil {
			mc.Problems = append(mc.Problems, fmt.Sprintf("call %s: %v", ids[i], err))
			continue
		}
		mc.Calls++
		for _, f := range legs {
			mc.Formats = append(mc.Formats, f.String())
			if p := f.Problem(); p != "" {
				mc.Problems = append(mc.Problems, p)
			}
		}
		if legs[0].Native != legs[1].Native {
			mc.Problems = append(mc.Problems, fmt.Sprintf("call %s: caller speaks %s, callee %s: the bridge translates every frame",
				ids[i], legs[0].Native, legs[1].Native))
		}
	}
	return mc
}

func readLegs(c *ari.Client, callID string) ([2]mediafmt.Formats, error) {
	var legs [2]mediafmt.Formats
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for i, role := range roles {
		f, err := mediafmt.Of(ctx, c, callID+"-"+string(role))
		if err != nil {
			return legs, err
		}
		legs[i] = f
	}
	return legs, nil
}
