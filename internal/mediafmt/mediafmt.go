// Package mediafmt reads, through ARI, which audio formats Asterisk uses on
// a channel, and tells a needless translation apart from a cheap one.
//
// The trap it exists for: a Local channel originated with no originator and
// no formats runs in Asterisk's richest native format, slin192, so every
// 8 kHz tone or frame written to it is resampled to 192 kHz (Asterisk's
// `core show channel`: "WriteTranscode: Yes (slin@8000)->(slin@192000)"),
// which costs Asterisk several percent of a core per held call. A tone
// generator on a µ-law channel writes signed linear at 8 kHz, which is
// only encoded ("(slin@8000)->(ulaw@8000)"): that is the tone's own cost,
// not a needless one.
//
// ARI has no transcoding field, but the CHANNEL() dialplan function reports
// the native, read and write formats, which is what `core show channel`
// derives its Transcode lines from, and needs no access to Asterisk's CLI.
package mediafmt

import (
	"context"
	"fmt"
	"strings"

	"github.com/ariapp/ariapp/ari"
)

// Formats are one channel's audio formats, as Asterisk names them.
type Formats struct {
	Channel string `json:"channel"`
	// Native is the set of formats the channel speaks, e.g. "(ulaw)".
	Native string `json:"native"`
	// Read is what Asterisk hands to whoever reads the channel (a bridge,
	// an application), Write what it is given to write to it.
	Read  string `json:"read"`
	Write string `json:"write"`
}

func (f Formats) String() string {
	return fmt.Sprintf("%s native %s read %s write %s", f.Channel, f.Native, f.Read, f.Write)
}

// Of reads channel id's formats. A channel that no longer exists is an
// error wrapping ari.ErrNotFound.
func Of(ctx context.Context, c *ari.Client, id string) (Formats, error) {
	f := Formats{Channel: id}
	for _, v := range []struct {
		fn  string
		dst *string
	}{{"audionativeformat", &f.Native}, {"audioreadformat", &f.Read}, {"audiowriteformat", &f.Write}} {
		val, err := c.GetVar(ctx, id, "CHANNEL("+v.fn+")")
		if err != nil {
			return f, fmt.Errorf("mediafmt: %s of %s: %w", v.fn, id, err)
		}
		*v.dst = val
	}
	return f, nil
}

// NativeSet is the list of native format names, e.g. [ulaw] for "(ulaw)"
// or [ulaw alaw] for "(ulaw|alaw)".
func (f Formats) NativeSet() []string {
	s := strings.Trim(strings.TrimSpace(f.Native), "()")
	if s == "" || s == "nothing" {
		return nil
	}
	return strings.Split(s, "|")
}

// Problem says what needless translation Asterisk does on the channel, or
// "" when there is none: a read format that is not native (Asterisk
// converts everything it reads), or a write format converted to a native
// one at another sample rate (resampling). Writing signed linear at the
// native rate (a tone generator on a µ-law channel) is allowed. Formats
// whose rate is unknown here are judged by name only.
func (f Formats) Problem() string {
	native := f.NativeSet()
	if len(native) == 0 {
		return fmt.Sprintf("%s: no native audio format", f.Channel)
	}
	in := func(name string) bool {
		for _, n := range native {
			if n == name {
				return true
			}
		}
		return false
	}
	var out []string
	if !in(f.Read) {
		out = append(out, fmt.Sprintf("reads translate %s to %s", native[0], f.Read))
	}
	if !in(f.Write) {
		wr, wok := Rate(f.Write)
		nr, nok := Rate(native[0])
		switch {
		case !wok || !nok:
			out = append(out, fmt.Sprintf("writes translate %s to %s", f.Write, native[0]))
		case wr != nr:
			out = append(out, fmt.Sprintf("writes resample %s (%d Hz) to %s (%d Hz)", f.Write, wr, native[0], nr))
		case !strings.HasPrefix(f.Write, "slin"):
			out = append(out, fmt.Sprintf("writes translate %s to %s", f.Write, native[0]))
		}
	}
	if len(out) == 0 {
		return ""
	}
	return fmt.Sprintf("%s: %s", f, strings.Join(out, "; "))
}

// rates are the sample rates of Asterisk's audio format names.
var rates = map[string]int{
	"ulaw": 8000, "alaw": 8000, "gsm": 8000, "g729": 8000, "g723": 8000, "g726": 8000, "g726aal2": 8000,
	"adpcm": 8000, "ilbc": 8000, "lpc10": 8000, "speex": 8000, "testlaw": 8000,
	"g722": 16000, "speex16": 16000, "siren7": 16000, "siren14": 32000, "speex32": 32000, "opus": 48000,
	"slin": 8000, "slin12": 12000, "slin16": 16000, "slin24": 24000, "slin32": 32000, "slin44": 44100,
	"slin48": 48000, "slin96": 96000, "slin192": 192000,
}

// Rate is the sample rate of an Asterisk format name, if known.
func Rate(name string) (int, bool) {
	r, ok := rates[name]
	return r, ok
}
