package main

import (
	"sync"
	"time"

	"github.com/ariapp/ariapp/internal/sipphone"
)

// The tones of the SIP mode: each phone sends its own, the hold media is
// 440 Hz, so "who hears what" is a question about frequencies.
const (
	callerHz = 700
	calleeHz = 1300
	holdHz   = 440
)

// Audio health thresholds at the phones (RTP every 20 ms).
const (
	lateAfter = 40 * time.Millisecond  // a packet more than one frame behind its predecessor
	gapAfter  = 100 * time.Millisecond // five frames missing: an audible gap
)

// legState is what one phone's side of a call expects to receive.
type legState int

const (
	legBridged    legState = iota // the peer's tone
	legWaitHold                   // held: the hold medium is awaited
	legHeld                       // held: the hold medium plays
	legWaitResume                 // resumed: the peer's tone is awaited
	legHolder                     // the side that holds: nothing is expected
	legWaitBack                   // the holder resumed: the peer's tone is awaited
)

// leg follows the packets of one call at one phone (Config.Observe): RTP
// sequence gaps, late packets and gaps in the stream, and for a hold or a
// resume the time from its trigger to the first packet of the new medium.
// Packets arrive on the phone's RTP reader; triggers come from the call's
// driver, hence the mutex.
type leg struct {
	m      *sipMeter
	peerHz float64

	mu       sync.Mutex
	state    legState
	trigger  time.Time
	method   string // of the pending hold or resume
	switched bool   // a packet without the peer's tone arrived since the hold
	have     bool
	lastAt   time.Time
	lastSeq  uint16
	lastSSRC uint32
}

// sipMeter collects what the phones measure while counting is on.
type sipMeter struct {
	mu       sync.Mutex
	counting bool
	lat      map[string][]time.Duration // by kind: hold_tone.METHOD, hold_switch.METHOD, resume.METHOD
	h        health
}

// health is the audio health the phones saw.
type health struct {
	Packets     uint64 `json:"packets"`      // counted packets, every leg
	Lost        uint64 `json:"lost"`         // missing RTP sequence numbers within a stream
	Late        uint64 `json:"late"`         // packets more than lateAfter after the previous one
	Gaps        uint64 `json:"gaps"`         // pauses longer than gapAfter while a medium plays
	HeldPackets uint64 `json:"held_packets"` // packets received while held
	HeldTone    uint64 `json:"held_tone"`    // of which carried the 440 Hz tone
	HeldPeer    uint64 `json:"held_peer"`    // of which carried the holder's own tone
	ToneGaps    uint64 `json:"tone_gaps"`    // pauses longer than gapAfter in the hold medium
	NoHoldTone  uint64 `json:"no_hold_tone"` // holds resumed before any hold tone arrived
	NoResume    uint64 `json:"no_resume"`    // resumes after which the peer was not heard again before the next hold
}

func newSIPMeter() *sipMeter {
	return &sipMeter{lat: map[string][]time.Duration{}}
}

func (m *sipMeter) newLeg(peerHz float64) *leg { return &leg{m: m, peerHz: peerHz} }

// count turns counting on or off and returns, when it turns it off, what
// was counted since it was turned on.
func (m *sipMeter) count(on bool) (map[string][]time.Duration, health) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.counting = on
	if on {
		m.lat = map[string][]time.Duration{}
		m.h = health{}
		return nil, health{}
	}
	return m.lat, m.h
}

func (m *sipMeter) add(f func(h *health)) {
	m.mu.Lock()
	if m.counting {
		f(&m.h)
	}
	m.mu.Unlock()
}

func (m *sipMeter) latency(kind string, d time.Duration) {
	m.mu.Lock()
	if m.counting {
		m.lat[kind] = append(m.lat[kind], d)
	}
	m.mu.Unlock()
}

// held: this side is put on hold now (the trigger leaves).
func (l *leg) held(method string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.state, l.trigger, l.method, l.switched = legWaitHold, at, method, false
}

// resumed: this side's peer resumes now.
func (l *leg) resumed(method string, at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state == legWaitHold {
		l.m.add(func(h *health) { h.NoHoldTone++ })
	}
	l.state, l.trigger, l.method = legWaitResume, at, method
}

// holds: this side holds now (it expects nothing until it resumes).
func (l *leg) holds() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state == legWaitBack {
		l.m.add(func(h *health) { h.NoResume++ })
	}
	l.state = legHolder
}

// unholds: this side resumes now.
func (l *leg) unholds(at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.state, l.trigger = legWaitBack, at
}

// observe takes one received packet.
func (l *leg) observe(p sipphone.Packet) {
	l.mu.Lock()
	defer l.mu.Unlock()
	lost, late, gap := uint64(0), false, false
	sinceLast := p.At.Sub(l.lastAt)
	if l.have && p.SSRC == l.lastSSRC {
		if d := p.Seq - l.lastSeq; d > 1 && d < 1000 {
			lost = uint64(d - 1)
		}
	}
	if l.have {
		late = sinceLast > lateAfter
		gap = sinceLast > gapAfter
	}
	l.have, l.lastAt, l.lastSeq, l.lastSSRC = true, p.At, p.Seq, p.SSRC
	audio := p.PT == 0 && len(p.PCM) > 0

	switch l.state {
	case legBridged:
		l.m.add(func(h *health) {
			h.Packets++
			h.Lost += lost
			if late {
				h.Late++
			}
			if gap {
				h.Gaps++
			}
		})
	case legHeld:
		tone := audio && sipphone.Present(p.PCM, holdHz)
		peer := audio && !tone && sipphone.Present(p.PCM, l.peerHz)
		l.m.add(func(h *health) {
			h.Packets++
			h.HeldPackets++
			h.Lost += lost
			if tone {
				h.HeldTone++
			}
			if peer {
				h.HeldPeer++
			}
			if late {
				h.Late++
			}
			if gap {
				h.ToneGaps++
			}
		})
	case legWaitHold:
		if !audio {
			return
		}
		if !l.switched && !sipphone.Present(p.PCM, l.peerHz) {
			l.switched = true
			l.m.latency("hold_switch."+l.method, p.At.Sub(l.trigger))
		}
		if sipphone.Present(p.PCM, holdHz) {
			l.m.latency("hold_tone."+l.method, p.At.Sub(l.trigger))
			l.state = legHeld
			l.m.add(func(h *health) { h.HeldPackets++; h.HeldTone++; h.Packets++ })
		}
	case legWaitResume:
		if audio && sipphone.Present(p.PCM, l.peerHz) {
			l.m.latency("resume."+l.method, p.At.Sub(l.trigger))
			l.state = legBridged
			l.m.add(func(h *health) { h.Packets++ })
		}
	case legWaitBack:
		if audio && sipphone.Present(p.PCM, l.peerHz) {
			l.state = legBridged
			l.m.add(func(h *health) { h.Packets++ })
		}
	case legHolder:
	}
}
