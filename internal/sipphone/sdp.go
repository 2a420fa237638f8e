package sipphone

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// HoldSDP selects how a re-INVITE signals hold (RFC 3264 §8.4, RFC 2543).
type HoldSDP int

const (
	// HoldSendonly offers a=sendonly: the holder keeps sending (its "music").
	HoldSendonly HoldSDP = iota + 1
	// HoldInactive offers a=inactive: no media either way; the phone stops
	// sending.
	HoldInactive
	// HoldZeroAddr offers c=IN IP4 0.0.0.0 with a=sendrecv, the old RFC 2543
	// way: the far end must not send to us; the phone itself keeps sending.
	HoldZeroAddr
)

// String names the hold style.
func (h HoldSDP) String() string {
	switch h {
	case HoldSendonly:
		return "sendonly"
	case HoldInactive:
		return "inactive"
	case HoldZeroAddr:
		return "zeroaddr"
	case 0:
		return "none"
	}
	return fmt.Sprintf("HoldSDP(%d)", int(h))
}

// SDP directions (RFC 3264 §5.1).
const (
	SendRecv = "sendrecv"
	SendOnly = "sendonly"
	RecvOnly = "recvonly"
	Inactive = "inactive"
)

// Payload types the phone offers.
const (
	ptPCMU          = 0
	ptTelephoneEvnt = 101
)

// Media is the audio part of one session description: what a peer said
// about where and how it receives.
type Media struct {
	// Version is the o= line's session version.
	Version uint64
	// Addr is the connection address (media-level c= wins over session-level);
	// 0.0.0.0 means "do not send to me" (RFC 2543 hold).
	Addr netip.Addr
	// Port is the m=audio port; 0 means the stream was rejected.
	Port int
	// Formats are the m=audio payload types, in preference order.
	Formats []uint8
	// RTPMap maps payload types to their a=rtpmap encoding, e.g.
	// 101 → "telephone-event/8000".
	RTPMap map[uint8]string
	// Direction is sendrecv, sendonly, recvonly or inactive (default
	// sendrecv), as seen from the peer that wrote the description.
	Direction string
	// Ptime is the a=ptime value in ms (0 if absent).
	Ptime int
}

func (m Media) clone() Media {
	m.Formats = append([]uint8(nil), m.Formats...)
	rm := make(map[uint8]string, len(m.RTPMap))
	for k, v := range m.RTPMap {
		rm[k] = v
	}
	m.RTPMap = rm
	return m
}

// AddrPort is where RTP for this media goes.
func (m Media) AddrPort() netip.AddrPort {
	return netip.AddrPortFrom(m.Addr, uint16(m.Port))
}

// PayloadType returns the payload type whose rtpmap encoding name matches
// name (case-insensitively, e.g. "telephone-event" or "PCMU"), and whether it
// is offered in the m= line. Static payload type 0 counts as PCMU without an
// rtpmap.
func (m Media) PayloadType(name string) (uint8, bool) {
	for _, pt := range m.Formats {
		enc, ok := m.RTPMap[pt]
		if !ok && pt == ptPCMU {
			enc = "PCMU/8000"
		}
		if n, _, _ := strings.Cut(enc, "/"); strings.EqualFold(n, name) {
			return pt, true
		}
	}
	return 0, false
}

// sdpParams is what buildSDP needs.
type sdpParams struct {
	User      string
	SessionID uint64
	Version   uint64
	Addr      string // connection address, "127.0.0.1" or "0.0.0.0"
	Port      int
	DTMFPT    uint8 // telephone-event payload type to offer
	Direction string
}

// buildSDP writes the phone's audio offer or answer: PCMU plus RFC 4733
// telephone-event, 20 ms packets.
func buildSDP(p sdpParams) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\n")
	fmt.Fprintf(&b, "o=%s %d %d IN IP4 127.0.0.1\r\n", p.User, p.SessionID, p.Version)
	fmt.Fprintf(&b, "s=sipphone\r\n")
	fmt.Fprintf(&b, "c=IN IP4 %s\r\n", p.Addr)
	fmt.Fprintf(&b, "t=0 0\r\n")
	fmt.Fprintf(&b, "m=audio %d RTP/AVP %d %d\r\n", p.Port, ptPCMU, p.DTMFPT)
	fmt.Fprintf(&b, "a=rtpmap:%d PCMU/8000\r\n", ptPCMU)
	fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\n", p.DTMFPT)
	fmt.Fprintf(&b, "a=fmtp:%d 0-16\r\n", p.DTMFPT)
	fmt.Fprintf(&b, "a=ptime:20\r\n")
	fmt.Fprintf(&b, "a=%s\r\n", p.Direction)
	return []byte(b.String())
}

// parseSDP reads the first m=audio stream of a session description.
func parseSDP(body []byte) (Media, error) {
	m := Media{Direction: SendRecv, RTPMap: map[uint8]string{}}
	var sessAddr, mediaAddr string
	sessDir, mediaDir := "", ""
	inAudio, seenAudio, seenOrigin := false, false, false
	for _, line := range strings.Split(string(body), "\n") {
		line = strings.TrimRight(line, "\r")
		if len(line) < 2 || line[1] != '=' {
			continue
		}
		key, val := line[0], line[2:]
		switch key {
		case 'o':
			f := strings.Fields(val)
			if len(f) < 6 {
				return Media{}, fmt.Errorf("sdp: bad o= line %q", line)
			}
			v, err := strconv.ParseUint(f[2], 10, 64)
			if err != nil {
				return Media{}, fmt.Errorf("sdp: bad o= version %q", f[2])
			}
			m.Version = v
			seenOrigin = true
		case 'm':
			if seenAudio {
				inAudio = false // only the first audio stream counts
				continue
			}
			f := strings.Fields(val)
			if len(f) < 3 || f[0] != "audio" {
				inAudio = false
				continue
			}
			port, err := strconv.Atoi(strings.SplitN(f[1], "/", 2)[0])
			if err != nil || port < 0 || port > 65535 {
				return Media{}, fmt.Errorf("sdp: bad m= port %q", f[1])
			}
			m.Port = port
			for _, pt := range f[3:] {
				n, err := strconv.ParseUint(pt, 10, 8)
				if err != nil {
					return Media{}, fmt.Errorf("sdp: bad payload type %q", pt)
				}
				m.Formats = append(m.Formats, uint8(n))
			}
			inAudio, seenAudio = true, true
		case 'c':
			f := strings.Fields(val)
			if len(f) < 3 || f[0] != "IN" {
				return Media{}, fmt.Errorf("sdp: bad c= line %q", line)
			}
			addr := strings.SplitN(f[2], "/", 2)[0]
			if inAudio {
				mediaAddr = addr
			} else if !seenAudio {
				sessAddr = addr
			}
		case 'a':
			name, arg, _ := strings.Cut(val, ":")
			switch name {
			case SendRecv, SendOnly, RecvOnly, Inactive:
				if inAudio {
					mediaDir = name
				} else if !seenAudio {
					sessDir = name
				}
			case "rtpmap":
				if !inAudio {
					continue
				}
				pt, enc, ok := strings.Cut(arg, " ")
				n, err := strconv.ParseUint(pt, 10, 8)
				if !ok || err != nil {
					return Media{}, fmt.Errorf("sdp: bad rtpmap %q", line)
				}
				m.RTPMap[uint8(n)] = strings.TrimSpace(enc)
			case "ptime":
				if inAudio {
					if n, err := strconv.Atoi(strings.TrimSpace(arg)); err == nil {
						m.Ptime = n
					}
				}
			}
		}
	}
	if !seenOrigin {
		return Media{}, errors.New("sdp: no o= line")
	}
	if !seenAudio {
		return Media{}, errors.New("sdp: no m=audio stream")
	}
	addr := mediaAddr
	if addr == "" {
		addr = sessAddr
	}
	if addr == "" {
		return Media{}, errors.New("sdp: no c= line for the audio stream")
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return Media{}, fmt.Errorf("sdp: connection address %q is not an IP address: %w", addr, err)
	}
	m.Addr = a
	switch {
	case mediaDir != "":
		m.Direction = mediaDir
	case sessDir != "":
		m.Direction = sessDir
	}
	return m, nil
}

// answerDirection is the direction an answerer uses (RFC 3264 §6.1) given
// the offer's direction and whether the answerer itself wants to send and
// receive.
func answerDirection(offer string, wantSend, wantRecv bool) string {
	// What the offerer allows us: it sends → we may receive, it receives → we may send.
	canSend := offer == SendRecv || offer == RecvOnly
	canRecv := offer == SendRecv || offer == SendOnly
	return direction(canSend && wantSend, canRecv && wantRecv)
}

func direction(send, recv bool) string {
	switch {
	case send && recv:
		return SendRecv
	case send:
		return SendOnly
	case recv:
		return RecvOnly
	}
	return Inactive
}
