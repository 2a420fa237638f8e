package sipphone

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// rawPeer is a hand-driven SIP endpoint on a UDP socket, for the cases a
// well-behaved stack never produces: retransmitted requests and responses.
type rawPeer struct {
	t    *testing.T
	conn *net.UDPConn
	rtp  *net.UDPConn
	addr string // SIP address, "127.0.0.1:port"
}

func newRawPeer(t *testing.T) *rawPeer {
	t.Helper()
	lo := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}
	c, err := net.ListenUDP("udp4", lo)
	if err != nil {
		t.Fatal(err)
	}
	r, err := net.ListenUDP("udp4", lo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); r.Close() })
	return &rawPeer{t: t, conn: c, rtp: r, addr: c.LocalAddr().String()}
}

func (r *rawPeer) rtpPort() int { return r.rtp.LocalAddr().(*net.UDPAddr).Port }

func (r *rawPeer) sdp(version uint64, dir string) string {
	return string(buildSDP(sdpParams{User: "raw", SessionID: 1, Version: version, Addr: "127.0.0.1", Port: r.rtpPort(), DTMFPT: 101, Direction: dir}))
}

// rawMsg is a received SIP message, split into its parts.
type rawMsg struct {
	start string
	hdrs  []string // "Name: value" lines in order
	body  string
	src   *net.UDPAddr
}

func (m *rawMsg) get(name string) string {
	for _, h := range m.hdrs {
		if n, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(strings.TrimSpace(n), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (m *rawMsg) all(name string) []string {
	var out []string
	for _, h := range m.hdrs {
		if n, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(strings.TrimSpace(n), name) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

func (r *rawPeer) send(to *net.UDPAddr, msg string) {
	r.t.Helper()
	if _, err := r.conn.WriteToUDP([]byte(msg), to); err != nil {
		r.t.Fatal(err)
	}
}

// recv returns the next message whose start line contains want.
func (r *rawPeer) recv(want string, timeout time.Duration) *rawMsg {
	r.t.Helper()
	deadline := time.Now().Add(timeout)
	buf := make([]byte, 65535)
	for {
		_ = r.conn.SetReadDeadline(deadline)
		n, src, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			r.t.Fatalf("waiting for %q: %v", want, err)
		}
		head, body, _ := strings.Cut(string(buf[:n]), "\r\n\r\n")
		lines := strings.Split(head, "\r\n")
		m := &rawMsg{start: lines[0], hdrs: lines[1:], body: body, src: src}
		if strings.Contains(m.start, want) {
			return m
		}
		r.t.Logf("raw peer skipped %q", m.start)
	}
}

// expectNothing asserts that no message containing what arrives for d.
func (r *rawPeer) expectNothing(what string, d time.Duration) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	buf := make([]byte, 65535)
	for {
		_ = r.conn.SetReadDeadline(deadline)
		n, _, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		if line, _, _ := strings.Cut(string(buf[:n]), "\r\n"); strings.Contains(line, what) {
			r.t.Fatalf("unexpected %q", line)
		}
	}
}

func withBody(ctype, body string) string {
	if body == "" {
		return "Content-Length: 0\r\n\r\n"
	}
	return fmt.Sprintf("Content-Type: %s\r\nContent-Length: %d\r\n\r\n%s", ctype, len(body), body)
}

// response builds a response to req, copying Via, From, To (adding a To tag
// if none), Call-ID and CSeq.
func response(req *rawMsg, status, toTag string, extra ...string) string {
	var b strings.Builder
	b.WriteString("SIP/2.0 " + status + "\r\n")
	for _, v := range req.all("Via") {
		b.WriteString("Via: " + v + "\r\n")
	}
	b.WriteString("From: " + req.get("From") + "\r\n")
	to := req.get("To")
	if !strings.Contains(to, "tag=") && toTag != "" {
		to += ";tag=" + toTag
	}
	b.WriteString("To: " + to + "\r\n")
	b.WriteString("Call-ID: " + req.get("Call-ID") + "\r\n")
	b.WriteString("CSeq: " + req.get("CSeq") + "\r\n")
	for _, e := range extra {
		b.WriteString(e + "\r\n")
	}
	return b.String()
}

// TestRawRetransmitted200 plays a UAS that retransmits its 200 OK: the
// phone must ACK every copy. It then retransmits a BYE: each copy gets 200.
func TestRawRetransmitted200(t *testing.T) {
	raw := newRawPeer(t)
	ctx := testCtx(t, 10*time.Second)
	p, err := New(ctx, Config{User: "p", SIPAddr: freeAddr(t), Server: raw.addr, ToneHz: 700, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })

	type dialResult struct {
		c   *Call
		err error
	}
	dialed := make(chan dialResult, 1)
	go func() {
		c, err := p.Dial(ctx, "r")
		dialed <- dialResult{c, err}
	}()
	inv := raw.recv("INVITE sip:r@"+raw.addr, 2*time.Second)
	if !strings.Contains(inv.body, "m=audio ") || inv.get("Contact") == "" || !strings.HasSuffix(inv.get("CSeq"), "INVITE") {
		t.Fatalf("INVITE:\n%s\n%s", strings.Join(inv.hdrs, "\n"), inv.body)
	}
	ok := response(inv, "200 OK", "rawtag",
		"Contact: <sip:r@"+raw.addr+">") + withBody("application/sdp", raw.sdp(1, SendRecv))
	raw.send(inv.src, ok)
	ack1 := raw.recv("ACK", 2*time.Second)
	if ack1.start != "ACK sip:r@"+raw.addr+" SIP/2.0" || !strings.Contains(ack1.get("To"), "tag=rawtag") || !strings.HasSuffix(ack1.get("CSeq"), " ACK") {
		t.Fatalf("ACK: %s %v", ack1.start, ack1.hdrs)
	}
	raw.send(inv.src, ok) // a retransmission, as if the ACK was lost
	ack2 := raw.recv("ACK", 2*time.Second)
	if ack2.get("CSeq") != ack1.get("CSeq") || ack2.get("Call-ID") != ack1.get("Call-ID") {
		t.Fatalf("second ACK differs: %v vs %v", ack2.hdrs, ack1.hdrs)
	}
	res := <-dialed
	if res.err != nil {
		t.Fatal(res.err)
	}
	call := res.c

	// The phone's tone arrives at the address of the answer.
	buf := make([]byte, 2048)
	_ = raw.rtp.SetReadDeadline(time.Now().Add(2 * time.Second))
	n, _, err := raw.rtp.ReadFromUDP(buf)
	if err != nil {
		t.Fatal(err)
	}
	pkt, okp := parseRTP(buf[:n], time.Now())
	if !okp || pkt.PT != 0 || len(pkt.PCM) != SamplesPerPacket || !Present(pkt.PCM, 700) {
		t.Fatalf("RTP from the phone: ok %v pt %d len %d", okp, pkt.PT, len(pkt.PCM))
	}

	// BYE, then the same BYE again (same branch): 200 both times.
	bye := fmt.Sprintf("BYE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-rawbye1\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: 1 BYE\r\nMax-Forwards: 70\r\n",
		strings.Trim(inv.get("Contact"), "<>"), raw.addr, ack1.get("To"), ack1.get("From"), ack1.get("Call-ID")) + withBody("", "")
	raw.send(inv.src, bye)
	if r := raw.recv("SIP/2.0", 2*time.Second); !strings.HasPrefix(r.start, "SIP/2.0 200") {
		t.Fatalf("BYE answered %s", r.start)
	}
	select {
	case <-call.Ended():
	case <-ctx.Done():
		t.Fatal("call did not end on BYE")
	}
	if call.EndedBy() != "remote" {
		t.Errorf("EndedBy = %q", call.EndedBy())
	}
	raw.send(inv.src, bye)
	if r := raw.recv("SIP/2.0", 2*time.Second); !strings.HasPrefix(r.start, "SIP/2.0 200") {
		t.Fatalf("retransmitted BYE answered %s", r.start)
	}
	// A new BYE for the ended dialog: 481.
	raw.send(inv.src, strings.Replace(strings.Replace(bye, "rawbye1", "rawbye2", 1), "CSeq: 1 BYE", "CSeq: 2 BYE", 1))
	if r := raw.recv("SIP/2.0", 2*time.Second); !strings.HasPrefix(r.start, "SIP/2.0 481") {
		t.Fatalf("BYE after the end answered %s", r.start)
	}
}

// TestRawRetransmittedInvite plays a UAC that retransmits its INVITE and is
// slow to ACK: one call, 200 re-sent until the ACK; then re-INVITEs from the
// peer are answered with the same port, OPTIONS with 200, and the phone's
// BYE follows the dialog.
func TestRawRetransmittedInvite(t *testing.T) {
	raw := newRawPeer(t)
	ctx := testCtx(t, 15*time.Second)
	pAddr := freeAddr(t)
	p, err := New(ctx, Config{User: "p", SIPAddr: pAddr, Server: raw.addr, ToneHz: 1300, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	dst, _ := net.ResolveUDPAddr("udp4", pAddr)

	invite := func(cseq int, branch, toTag string, version uint64, dir string) string {
		to := "<sip:p@" + pAddr + ">"
		if toTag != "" {
			to += ";tag=" + toTag
		}
		return fmt.Sprintf("INVITE sip:p@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;rport;branch=%s\r\nFrom: <sip:raw@%s>;tag=rawtag\r\nTo: %s\r\nCall-ID: raw-call-1\r\nCSeq: %d INVITE\r\nContact: <sip:raw@%s>\r\nMax-Forwards: 70\r\n",
			pAddr, raw.addr, branch, raw.addr, to, cseq, raw.addr) + withBody("application/sdp", raw.sdp(version, dir))
	}
	ack := func(cseq int, branch, toTag string) string {
		return fmt.Sprintf("ACK sip:p@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=%s\r\nFrom: <sip:raw@%s>;tag=rawtag\r\nTo: <sip:p@%s>;tag=%s\r\nCall-ID: raw-call-1\r\nCSeq: %d ACK\r\nMax-Forwards: 70\r\n",
			pAddr, raw.addr, branch, raw.addr, pAddr, toTag, cseq) + withBody("", "")
	}

	first := invite(1, "z9hG4bK-inv1", "", 1, SendRecv)
	raw.send(dst, first)
	raw.recv("180 Ringing", 2*time.Second)
	raw.send(dst, first) // retransmission
	call, err := p.Incoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if c2, err := p.Incoming(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a retransmitted INVITE made a second call: %v %v", c2, err)
	}

	answered := make(chan error, 1)
	start := time.Now()
	go func() { answered <- call.Answer(ctx) }()
	ok1 := raw.recv("200 OK", 2*time.Second)
	ok2 := raw.recv("200 OK", 2*time.Second) // not ACKed yet: re-sent after T1
	gap := time.Since(start)
	if ok1.get("CSeq") != "1 INVITE" || ok2.get("CSeq") != "1 INVITE" || ok1.body != ok2.body {
		t.Fatalf("200s: %q %q", ok1.get("CSeq"), ok2.get("CSeq"))
	}
	t.Logf("200 OK re-sent after %v without ACK", gap.Round(time.Millisecond))
	toTag := ok1.get("To")[strings.Index(ok1.get("To"), "tag=")+4:]
	answer, err := parseSDP([]byte(ok1.body))
	if err != nil || answer.Port != p.RTPPort() || answer.Direction != SendRecv {
		t.Fatalf("answer %+v %v", answer, err)
	}
	raw.send(dst, ack(1, "z9hG4bK-ack1", toTag))
	if err := <-answered; err != nil {
		t.Fatal(err)
	}

	// The peer's re-INVITE putting the phone on hold (sendonly): the phone
	// answers recvonly on the same port and stops sending.
	raw.send(dst, invite(2, "z9hG4bK-inv2", toTag, 2, SendOnly))
	re := raw.recv("200 OK", 2*time.Second)
	m, err := parseSDP([]byte(re.body))
	if err != nil || m.Port != p.RTPPort() || m.Direction != RecvOnly || m.Version <= answer.Version {
		t.Fatalf("answer to sendonly: %+v %v", m, err)
	}
	raw.send(dst, ack(2, "z9hG4bK-ack2", toTag))
	if call.Sending() {
		t.Error("phone still sends while held by the peer")
	}
	// A retransmission of that (already ACKed) re-INVITE is absorbed by its
	// transaction: no second answer.
	raw.send(dst, invite(2, "z9hG4bK-inv2", toTag, 2, SendOnly))
	raw.expectNothing("SIP/2.0", 300*time.Millisecond)
	// Back to sendrecv.
	raw.send(dst, invite(3, "z9hG4bK-inv3", toTag, 3, SendRecv))
	re = raw.recv("200 OK", 2*time.Second)
	if m, err := parseSDP([]byte(re.body)); err != nil || m.Direction != SendRecv || m.Port != p.RTPPort() {
		t.Fatalf("answer to sendrecv: %+v %v", m, err)
	}
	raw.send(dst, ack(3, "z9hG4bK-ack3", toTag))
	if !call.Sending() {
		t.Error("phone does not send after the peer's resume")
	}
	// A stale CSeq is refused.
	raw.send(dst, invite(2, "z9hG4bK-inv2b", toTag, 4, SendRecv))
	if r := raw.recv("SIP/2.0", 2*time.Second); !strings.HasPrefix(r.start, "SIP/2.0 500") {
		t.Errorf("stale CSeq answered %s", r.start)
	}

	// OPTIONS: 200.
	raw.send(dst, fmt.Sprintf("OPTIONS sip:p@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-opt1\r\nFrom: <sip:raw@%s>;tag=o1\r\nTo: <sip:p@%s>\r\nCall-ID: raw-options\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n",
		pAddr, raw.addr, raw.addr, pAddr)+withBody("", ""))
	if r := raw.recv("SIP/2.0", 2*time.Second); !strings.HasPrefix(r.start, "SIP/2.0 200") || r.get("Allow") == "" {
		t.Errorf("OPTIONS answered %s %v", r.start, r.hdrs)
	}

	// The phone hangs up: BYE to the peer's Contact, with the dialog's tags
	// and the phone's own next CSeq.
	hung := make(chan error, 1)
	go func() { hung <- call.Hangup(ctx) }()
	bye := raw.recv("BYE", 2*time.Second)
	if bye.start != "BYE sip:raw@"+raw.addr+" SIP/2.0" || !strings.Contains(bye.get("To"), "tag=rawtag") ||
		!strings.Contains(bye.get("From"), "tag="+toTag) || !strings.HasSuffix(bye.get("CSeq"), " BYE") {
		t.Fatalf("BYE: %s %v", bye.start, bye.hdrs)
	}
	raw.send(bye.src, response(bye, "200 OK", "")+withBody("", ""))
	if err := <-hung; err != nil {
		t.Fatal(err)
	}
	if call.EndedBy() != "local" {
		t.Errorf("EndedBy = %q", call.EndedBy())
	}
}
