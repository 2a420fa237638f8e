package sipphone

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"
)

// packetInterval is the phone's RTP packet time.
const packetInterval = 20 * time.Millisecond

// toneAmplitude is the peak of the sine a phone sends (about -12 dBFS).
const toneAmplitude = 8000

// DTMF timing (RFC 4733): each digit lasts digitPackets packets (100 ms),
// its end packet is sent endRepeats times, then gapPackets packets of audio
// separate it from the next digit.
const (
	digitPackets = 5
	endRepeats   = 3
	gapPackets   = 5
)

// parseRTP decodes an RTP packet (RFC 3550); ok is false for anything that
// is not RTP version 2 or is truncated.
func parseRTP(b []byte, at time.Time) (Packet, bool) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return Packet{}, false
	}
	cc := int(b[0] & 0x0F)
	off := 12 + 4*cc
	if len(b) < off {
		return Packet{}, false
	}
	if b[0]&0x10 != 0 { // header extension
		if len(b) < off+4 {
			return Packet{}, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(b[off+2:]))
		if len(b) < off {
			return Packet{}, false
		}
	}
	end := len(b)
	if b[0]&0x20 != 0 { // padding
		pad := int(b[end-1])
		if pad == 0 || end-pad < off {
			return Packet{}, false
		}
		end -= pad
	}
	p := Packet{
		At:        at,
		Marker:    b[1]&0x80 != 0,
		PT:        b[1] & 0x7F,
		Seq:       binary.BigEndian.Uint16(b[2:]),
		Timestamp: binary.BigEndian.Uint32(b[4:]),
		SSRC:      binary.BigEndian.Uint32(b[8:]),
	}
	payload := b[off:end]
	if p.PT == ptPCMU {
		p.PCM = make([]int16, len(payload))
		for i, u := range payload {
			p.PCM[i] = ULawDecode(u)
		}
	} else {
		p.Payload = append([]byte(nil), payload...)
	}
	return p, true
}

// putRTPHeader writes a 12-byte RTP header into b.
func putRTPHeader(b []byte, marker bool, pt uint8, seq uint16, ts, ssrc uint32) {
	b[0] = 0x80
	b[1] = pt & 0x7F
	if marker {
		b[1] |= 0x80
	}
	binary.BigEndian.PutUint16(b[2:], seq)
	binary.BigEndian.PutUint32(b[4:], ts)
	binary.BigEndian.PutUint32(b[8:], ssrc)
}

// dtmfEvent maps a DTMF digit to its RFC 4733 event code.
func dtmfEvent(d rune) (byte, bool) {
	switch {
	case d >= '0' && d <= '9':
		return byte(d - '0'), true
	case d == '*':
		return 10, true
	case d == '#':
		return 11, true
	case d >= 'A' && d <= 'D':
		return byte(d-'A') + 12, true
	case d >= 'a' && d <= 'd':
		return byte(d-'a') + 12, true
	}
	return 0, false
}

func validDigits(digits string) error {
	if digits == "" {
		return errors.New("sipphone: no DTMF digits")
	}
	for _, d := range digits {
		if _, ok := dtmfEvent(d); !ok {
			return fmt.Errorf("sipphone: %q is not a DTMF digit (0-9, *, #, A-D)", d)
		}
	}
	return nil
}

// dtmfJob is one SendDTMF request, played by the call's sender.
type dtmfJob struct {
	events []byte
	done   chan error // receives exactly one result

	idx     int    // current digit
	tick    int    // packet within the current digit, including end repeats and gap
	eventTS uint32 // RTP timestamp of the current digit's start
}

// step returns the RTP payload for this tick: an event packet (event true,
// with its marker and timestamp) or, during the gap between digits, nothing
// (event false: send audio). finished is true once the job is complete after
// this tick.
func (j *dtmfJob) step(ts uint32) (payload [4]byte, event, marker bool, eventTS uint32, finished bool) {
	if j.tick == 0 {
		j.eventTS = ts
	}
	t := j.tick
	j.tick++
	last := j.idx == len(j.events)-1
	switch {
	case t < digitPackets: // the digit, duration growing
		dur := uint16((t + 1) * SamplesPerPacket)
		payload = eventPayload(j.events[j.idx], false, dur)
		return payload, true, t == 0, j.eventTS, false
	case t < digitPackets+endRepeats: // end packets, repeated
		payload = eventPayload(j.events[j.idx], true, uint16(digitPackets*SamplesPerPacket))
		if t == digitPackets+endRepeats-1 && last {
			finished = true
		}
		return payload, true, false, j.eventTS, finished
	default: // gap of audio before the next digit
		if t == digitPackets+endRepeats+gapPackets-1 {
			j.idx++
			j.tick = 0
		}
		return payload, false, false, 0, false
	}
}

// eventPayload is an RFC 4733 telephone-event payload; volume 10 (-10 dBm0).
func eventPayload(ev byte, end bool, duration uint16) [4]byte {
	var p [4]byte
	p[0] = ev
	p[1] = 10
	if end {
		p[1] |= 0x80
	}
	binary.BigEndian.PutUint16(p[2:], duration)
	return p
}

// runSender sends the call's RTP until the call ends: every 20 ms either 160
// µ-law samples of the phone's sine or, while SendDTMF runs, a
// telephone-event packet. The sine's phase and the RTP timestamp advance
// every tick, also while the call does not send (inactive hold).
func (c *Call) runSender() {
	defer c.p.wg.Done()
	ticker := time.NewTicker(packetInterval)
	defer ticker.Stop()

	seq := uint16(rand.Uint32())
	ts := rand.Uint32()
	ssrc := rand.Uint32()
	gen := sine{hz: c.p.cfg.ToneHz, amp: toneAmplitude}
	buf := make([]byte, 12+SamplesPerPacket)
	audio := buf[12:]
	marker := true
	var job *dtmfJob

	fail := func(err error) {
		if job != nil {
			job.done <- err
			job = nil
		}
	}
	defer func() { fail(ErrEnded) }()

	var last time.Time
	for {
		select {
		case <-c.ended:
			return
		case <-c.p.done:
			return
		case now := <-ticker.C:
			if !last.IsZero() && now.Sub(last) > 2*packetInterval {
				c.p.sendStalls.Add(1)
			}
			last = now
		}
		c.mu.Lock()
		dst, send, dtmfPT := c.sendTo, c.sending, c.dtmfPT
		c.mu.Unlock()
		if job == nil {
			select {
			case job = <-c.dtmfQ:
			default:
			}
		}
		gen.next(audio)
		curTS := ts
		ts += SamplesPerPacket

		if !send || !dst.IsValid() || dst.Addr().IsUnspecified() || dst.Port() == 0 {
			marker = true
			fail(errors.New("sipphone: the call does not send media now (inactive or no remote address)"))
			continue
		}
		if job != nil {
			ev, isEvent, m, evTS, finished := job.step(curTS)
			if isEvent {
				putRTPHeader(buf, m, dtmfPT, seq, evTS, ssrc)
				c.writeRTP(append(buf[:12:12], ev[:]...), dst)
				seq++
				if finished {
					job.done <- nil
					job = nil
				}
				continue
			}
		}
		putRTPHeader(buf, marker, ptPCMU, seq, curTS, ssrc)
		marker = false
		c.writeRTP(buf, dst)
		seq++
	}
}

func (c *Call) writeRTP(pkt []byte, dst netip.AddrPort) {
	if _, err := c.p.rtpConn.WriteToUDPAddrPort(pkt, dst); err != nil {
		c.p.log.Debug("rtp write failed", "call_id", c.id, "dst", dst.String(), "error", err)
	}
	c.sent.Add(1)
}

// readRTP receives on the phone's RTP port until it is closed and hands each
// packet to the live calls.
func (p *Phone) readRTP() {
	defer p.wg.Done()
	buf := make([]byte, 2048)
	oob := make([]byte, 128)
	for {
		n, oobn, _, src, err := p.rtpConn.ReadMsgUDPAddrPort(buf, oob)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case <-p.done:
				return
			default:
			}
			continue
		}
		at, ok := kernelTime(oob[:oobn])
		if !ok {
			at = time.Now()
		}
		pkt, ok := parseRTP(buf[:n], at)
		if !ok {
			continue
		}
		pkt.Src = unmap(src)
		p.dispatchRTP(pkt, src)
	}
}

// route moves c's entry in the routing table from the peer's old media
// address to its new one (an invalid address: none).
func (p *Phone) route(c *Call, from, to netip.AddrPort) {
	from, to = unmap(from), unmap(to)
	p.routeMu.Lock()
	defer p.routeMu.Unlock()
	if from.IsValid() && p.routes[from] == c {
		delete(p.routes, from)
	}
	if to.IsValid() && !to.Addr().IsUnspecified() && to.Port() != 0 {
		p.routes[to] = c
	}
}

// dispatchRTP records pkt on the live call whose remote media address is
// src or, if none is, on every live call.
func (p *Phone) dispatchRTP(pkt Packet, src netip.AddrPort) {
	p.routeMu.Lock()
	c := p.routes[unmap(src)]
	p.routeMu.Unlock()
	// Only observed phones (load tests) take the table's one call: a
	// recording phone keeps giving a packet to every call with that peer
	// address, which tests of two calls between the same phones rely on.
	if c != nil && p.cfg.Observe != nil && c.mediaLive.Load() {
		c.deliver(pkt)
		return
	}
	p.mu.Lock()
	var live []*Call
	for _, c := range p.calls {
		if c.mediaLive.Load() {
			live = append(live, c)
		}
	}
	p.mu.Unlock()
	var match []*Call
	for _, c := range live {
		c.mu.Lock()
		if c.remote.AddrPort() == unmap(src) {
			match = append(match, c)
		}
		c.mu.Unlock()
	}
	if len(match) == 0 {
		match = live
	}
	for _, c := range match {
		c.deliver(pkt)
	}
}

// deliver hands a received packet to Config.Observe or the call's Recording.
func (c *Call) deliver(pkt Packet) {
	if obs := c.p.cfg.Observe; obs != nil {
		obs(c, pkt)
		return
	}
	c.rec.add(pkt)
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}
