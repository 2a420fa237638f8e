package sipphone

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

type callState int

const (
	stateRinging     callState = iota // incoming, not answered yet
	stateDialing                      // outgoing, INVITE sent
	stateEstablished                  // 200 OK sent or received
	stateEnded
)

// Call is one dialog of a phone, incoming or outgoing.
type Call struct {
	p        *Phone
	id       string // Call-ID
	outgoing bool   // the phone sent the INVITE (UAC of the dialog)
	rec      *Recording

	ended       chan struct{} // closed when the dialog ends
	inviteFinal chan struct{} // incoming: closed once a final response was chosen
	dtmfQ       chan *dtmfJob
	mediaLive   atomic.Bool
	sent        atomic.Uint64 // RTP packets sent

	endOnce   sync.Once
	finalOnce sync.Once

	mu           sync.Mutex
	state        callState
	endedBy      string
	localTag     string
	remoteTag    string
	localURI     sip.Uri
	remoteURI    sip.Uri
	remoteTarget sip.Uri  // request URI of in-dialog requests
	routeSet     []string // Route header values of in-dialog requests
	localCSeq    uint32
	remoteCSeq   uint32
	inviteReq    *sip.Request             // incoming: the initial INVITE
	inviteTx     sip.ServerTransaction    // incoming: its transaction
	inviteCSeq   uint32                   // incoming: its CSeq
	offer        *Media                   // incoming: the INVITE's SDP offer, nil if none
	acks         map[uint32]chan struct{} // 2xx we sent that wait for their ACK
	ackAnswer    bool                     // our last 2xx carried an offer; the ACK carries the answer
	lastAck      *sip.Request             // the ACK of our last INVITE's 2xx, for retransmitted 2xx
	reinviting   bool                     // our re-INVITE is in progress
	hold         HoldSDP                  // how the phone holds the call now (0: it does not)
	sessionID    uint64
	localVersion uint64
	localDir     string // direction in the phone's latest SDP
	remote       Media  // the peer's latest SDP
	haveRemote   bool
	sending      bool
	sendTo       netip.AddrPort
	dtmfPT       uint8
	dtmfOK       bool
	senderOn     bool
}

func newCall(p *Phone, id string, outgoing bool) *Call {
	c := &Call{
		p:            p,
		id:           id,
		outgoing:     outgoing,
		rec:          newRecording(),
		ended:        make(chan struct{}),
		inviteFinal:  make(chan struct{}),
		dtmfQ:        make(chan *dtmfJob, 1),
		acks:         map[uint32]chan struct{}{},
		sessionID:    uint64(rand.Uint32()),
		localVersion: uint64(rand.Uint32()),
		state:        stateRinging,
	}
	if outgoing {
		c.state = stateDialing
	}
	return c
}

// ID is the dialog's Call-ID.
func (c *Call) ID() string { return c.id }

// RemoteUser is the user part of the peer's URI: the From user of an
// incoming call (Asterisk puts the caller ID number there), the dialled
// extension of an outgoing one.
func (c *Call) RemoteUser() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.remoteURI.User
}

// Outgoing reports whether the phone placed this call (it is the dialog's
// UAC).
func (c *Call) Outgoing() bool { return c.outgoing }

// Ended is closed when the dialog has ended: BYE sent or received, the call
// rejected or cancelled, or the phone closed.
func (c *Call) Ended() <-chan struct{} { return c.ended }

// EndedBy is "local" if the phone ended the call (Hangup, Reject, Close),
// "remote" if the peer did (BYE, CANCEL, an error response to the INVITE,
// 481/408 to an in-dialog request), and "" while the call lasts.
func (c *Call) EndedBy() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endedBy
}

// Audio is everything received on the phone's RTP port while this call's
// media ran. When several calls of one phone have media at once, a packet
// goes to the call whose remote SDP address it comes from, or to all of
// them if it matches none.
func (c *Call) Audio() *Recording { return c.rec }

// Remote is the peer's latest session description: for an incoming call
// not yet answered its offer, zero if there is none yet.
func (c *Call) Remote() Media {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.haveRemote && c.offer != nil {
		return c.offer.clone()
	}
	return c.remote.clone()
}

// Sending reports whether the phone sends RTP on this call now.
func (c *Call) Sending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sending && c.senderOn
}

// PacketsSent is the number of RTP packets (audio and DTMF) the phone sent on
// this call.
func (c *Call) PacketsSent() uint64 { return c.sent.Load() }

// end marks the call ended (idempotently) and stops its media.
func (c *Call) end(by string) {
	c.endOnce.Do(func() {
		c.mu.Lock()
		c.state = stateEnded
		c.endedBy = by
		c.sending = false
		c.mu.Unlock()
		c.mediaLive.Store(false)
		c.mu.Lock()
		from := c.remote.AddrPort()
		c.mu.Unlock()
		c.p.route(c, from, netip.AddrPort{})
		close(c.ended)
		c.finalOnce.Do(func() { close(c.inviteFinal) })
		c.p.removeCall(c)
		c.p.log.Debug("call ended", "call_id", c.id, "by", by)
	})
}

// newRequest builds an in-dialog request (or the initial INVITE) with the
// dialog's tags, Call-ID, the next local CSeq, the route set and, for
// INVITE, the phone's Contact. c.mu must be held.
func (c *Call) newRequest(method sip.RequestMethod) *sip.Request {
	c.localCSeq++
	return c.requestWithCSeq(method, c.localCSeq)
}

func (c *Call) requestWithCSeq(method sip.RequestMethod, cseq uint32) *sip.Request {
	req := sip.NewRequest(method, *c.remoteTarget.Clone())
	from := &sip.FromHeader{Address: *c.localURI.Clone(), Params: sip.NewParams()}
	from.Params.Add("tag", c.localTag)
	to := &sip.ToHeader{Address: *c.remoteURI.Clone(), Params: sip.NewParams()}
	if c.remoteTag != "" {
		to.Params.Add("tag", c.remoteTag)
	}
	callID := sip.CallIDHeader(c.id)
	maxFwd := sip.MaxForwardsHeader(70)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&callID)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: cseq, MethodName: method})
	req.AppendHeader(&maxFwd)
	for _, r := range c.routeSet {
		req.AppendHeader(sip.NewHeader("Route", r))
	}
	if method == sip.INVITE {
		req.AppendHeader(c.p.contactHeader())
		req.AppendHeader(sip.NewHeader("Allow", allowed))
	}
	req.AppendHeader(sip.NewHeader("User-Agent", "sipphone/"+c.p.cfg.User))
	if method != sip.INVITE {
		req.SetBody(nil) // Content-Length: 0
	}
	return req
}

// wants is what the phone itself wants for the media given its hold state:
// whether it sends, whether it receives, and the connection address it
// advertises.
func (c *Call) wants() (send, recv bool, addr string) {
	switch c.hold {
	case HoldSendonly:
		return true, false, c.p.host
	case HoldInactive:
		return false, false, c.p.host
	case HoldZeroAddr:
		return true, true, "0.0.0.0"
	}
	return true, true, c.p.host
}

// sdpLocked writes the phone's SDP with c.localDir and the current
// c.localVersion. c.mu must be held.
func (c *Call) sdpLocked() []byte {
	_, _, addr := c.wants()
	pt := uint8(ptTelephoneEvnt)
	if c.dtmfOK {
		pt = c.dtmfPT // answer with the peer's telephone-event type
	}
	return buildSDP(sdpParams{
		User:      c.p.cfg.User,
		SessionID: c.sessionID,
		Version:   c.localVersion,
		Addr:      addr,
		Port:      c.p.rtpPort,
		DTMFPT:    pt,
		Direction: c.localDir,
	})
}

// applyRemote adopts the peer's SDP and recomputes whether and where the
// phone sends. c.mu must be held.
func (c *Call) applyRemote(m Media) {
	c.p.route(c, c.remote.AddrPort(), m.AddrPort())
	c.remote = m
	c.haveRemote = true
	c.dtmfPT, c.dtmfOK = m.PayloadType("telephone-event")
	c.updateSending()
}

// updateSending: the phone sends when its own SDP allows it (sendrecv or
// sendonly), the peer's allows it (sendrecv or recvonly) and the peer gave
// a real address. c.mu must be held.
func (c *Call) updateSending() {
	localSend := c.localDir == SendRecv || c.localDir == SendOnly
	remoteRecv := c.remote.Direction == SendRecv || c.remote.Direction == RecvOnly
	_, pcmu := c.remote.PayloadType("PCMU")
	c.sending = c.haveRemote && localSend && remoteRecv && pcmu &&
		c.remote.Port != 0 && c.remote.Addr.IsValid() && !c.remote.Addr.IsUnspecified()
	c.sendTo = c.remote.AddrPort()
}

// startMedia starts recording and the RTP sender (once).
func (c *Call) startMedia() {
	c.mu.Lock()
	if c.senderOn || c.state == stateEnded {
		c.mu.Unlock()
		return
	}
	c.senderOn = true
	c.mu.Unlock()
	c.mediaLive.Store(true)
	if !c.p.track() {
		return
	}
	go c.runSender()
}

// acceptCSeq checks and records the CSeq of an in-dialog request from the
// peer: it must grow (RFC 3261 §12.2.2).
func (c *Call) acceptCSeq(req *sip.Request) bool {
	cseq := req.CSeq()
	if cseq == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cseq.SeqNo <= c.remoteCSeq && c.remoteCSeq != 0 {
		return false
	}
	c.remoteCSeq = cseq.SeqNo
	return true
}

// confirm completes an outgoing INVITE (initial or re-INVITE) on its 2xx:
// adopt the dialog state and the SDP answer, send the ACK, and re-send it
// whenever the 2xx is retransmitted.
func (c *Call) confirm(res *sip.Response, tx sip.ClientTransaction, cseq uint32) {
	c.mu.Lock()
	if c.state == stateDialing {
		c.remoteTag = toTag(res.To())
		c.routeSet = reverse(headerValues(res, "Record-Route"))
		c.state = stateEstablished
	}
	if ct := res.Contact(); ct != nil {
		c.remoteTarget = *ct.Address.Clone()
	}
	var sdpErr error
	if body := res.Body(); len(body) > 0 {
		if m, err := parseSDP(body); err != nil {
			sdpErr = err
		} else {
			c.applyRemote(m)
		}
	} else {
		sdpErr = errors.New("sipphone: 2xx without SDP answer")
	}
	// The ACK is complete (Via included) before it is first sent, so the
	// hook for retransmitted 2xx can be in place before the ACK leaves.
	ack := c.requestWithCSeq(sip.ACK, cseq)
	via := &sip.ViaHeader{ProtocolName: "SIP", ProtocolVersion: "2.0", Transport: "UDP",
		Host: c.p.host, Port: c.p.port, Params: sip.NewParams()}
	via.Params.Add("branch", sip.GenerateBranch())
	ack.PrependHeader(via)
	c.lastAck = ack
	c.mu.Unlock()

	tx.OnRetransmission(func(r *sip.Response) {
		if r.IsSuccess() {
			c.p.sendAck(ack.Clone())
		}
	})
	c.p.sendAck(ack.Clone())
	c.startMedia()
	if sdpErr != nil {
		c.p.log.Debug("bad SDP answer", "call_id", c.id, "error", sdpErr)
	}
}

func reverse(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// cancelInvite ends an unanswered outgoing INVITE with CANCEL and returns
// cause. A 2xx that crosses the CANCEL is ACKed and the call hung up.
func (c *Call) cancelInvite(req *sip.Request, tx sip.ClientTransaction, provisional bool, cause error) error {
	defer c.end("local")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	final := func(res *sip.Response) error {
		c.p.logRecv(res)
		if res.IsSuccess() {
			c.confirm(res, tx, req.CSeq().SeqNo)
			_ = c.bye(ctx)
		}
		return cause
	}
	// CANCEL may only follow a provisional response (RFC 3261 §9.1).
	for !provisional {
		select {
		case res := <-tx.Responses():
			if !res.IsProvisional() {
				return final(res)
			}
			provisional = true
		case <-tx.Done():
			return cause
		case <-ctx.Done():
			tx.Terminate()
			return cause
		case <-c.p.done:
			tx.Terminate()
			return cause
		}
	}
	cr := sip.NewRequest(sip.CANCEL, *req.Recipient.Clone())
	cr.AppendHeader(req.Via().Clone())
	for _, r := range req.GetHeaders("Route") {
		cr.AppendHeader(sip.NewHeader("Route", r.Value()))
	}
	cr.AppendHeader(sip.HeaderClone(req.From()))
	cr.AppendHeader(sip.HeaderClone(req.To()))
	cr.AppendHeader(sip.HeaderClone(req.CallID()))
	cr.AppendHeader(&sip.CSeqHeader{SeqNo: req.CSeq().SeqNo, MethodName: sip.CANCEL})
	maxFwd := sip.MaxForwardsHeader(70)
	cr.AppendHeader(&maxFwd)
	cr.SetBody(nil)
	c.p.logSent(cr)
	if res, err := c.p.cli.Do(ctx, cr); err == nil {
		c.p.logRecv(res)
	}
	for {
		select {
		case res := <-tx.Responses():
			if !res.IsProvisional() {
				return final(res)
			}
		case <-tx.Done():
			return cause
		case <-ctx.Done():
			tx.Terminate()
			return cause
		case <-c.p.done:
			tx.Terminate()
			return cause
		}
	}
}

// Answer accepts an incoming call: 200 OK with the phone's SDP answer (or
// offer, if the INVITE had none), re-sent until the ACK arrives. The media
// starts with the 200; Answer returns once the ACK has arrived.
func (c *Call) Answer(ctx context.Context) error {
	c.mu.Lock()
	if c.outgoing {
		c.mu.Unlock()
		return errors.New("sipphone: Answer on an outgoing call")
	}
	if c.state != stateRinging {
		st := c.state
		c.mu.Unlock()
		if st == stateEnded {
			return ErrEnded
		}
		return errors.New("sipphone: call already answered")
	}
	if c.offer != nil {
		c.localDir = answerDirection(c.offer.Direction, true, true)
		c.applyRemote(*c.offer)
	} else {
		c.localDir = SendRecv
		c.ackAnswer = true
	}
	c.localVersion++
	body := c.sdpLocked()
	c.state = stateEstablished
	ackCh := make(chan struct{})
	c.acks[c.inviteCSeq] = ackCh
	req, tx, tag := c.inviteReq, c.inviteTx, c.localTag
	c.mu.Unlock()

	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.To().Params.Add("tag", tag)
	res.AppendHeader(c.p.contactHeader())
	res.AppendHeader(sip.NewHeader("Allow", allowed))
	res.AppendHeader(sip.NewHeader("Server", "sipphone/"+c.p.cfg.User))
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res.SetBody(body)
	c.startMedia()
	c.p.logSent(res)
	err := tx.Respond(res)
	// Only now may the INVITE handler return: sipgo terminates a transaction
	// whose handler returned before a final response.
	c.finalOnce.Do(func() { close(c.inviteFinal) })
	if err != nil {
		c.end("local")
		return fmt.Errorf("sipphone: send 200 OK: %w", err)
	}
	return c.waitAck(ctx, res, tx, ackCh)
}

// waitAck re-sends a 2xx to an INVITE (T1, doubling up to T2) until its ACK
// arrives. Without an ACK for 64·T1 the call is hung up (RFC 3261 §13.3.1.4).
func (c *Call) waitAck(ctx context.Context, res *sip.Response, tx sip.ServerTransaction, ackCh chan struct{}) error {
	interval := sip.T1
	timer := time.NewTimer(interval)
	defer timer.Stop()
	deadline := time.NewTimer(64 * sip.T1)
	defer deadline.Stop()
	for {
		select {
		case <-ackCh:
			return nil
		case <-timer.C:
			c.p.logSent(res)
			_ = tx.Respond(res)
			interval = min(2*interval, sip.T2)
			timer.Reset(interval)
		case <-deadline.C:
			bctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = c.Hangup(bctx)
			cancel()
			return errors.New("sipphone: no ACK for 200 OK")
		case <-ctx.Done():
			return ctx.Err()
		case <-c.ended:
			return ErrEnded
		case <-c.p.done:
			return ErrClosed
		}
	}
}

// handleAck completes a 2xx the phone sent; an ACK with SDP is the answer
// to the offer that 2xx carried.
func (c *Call) handleAck(req *sip.Request) {
	cseq := req.CSeq()
	if cseq == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	ch, ok := c.acks[cseq.SeqNo]
	if !ok {
		return // a retransmitted ACK
	}
	delete(c.acks, cseq.SeqNo)
	close(ch)
	if c.ackAnswer {
		c.ackAnswer = false
		if m, err := parseSDP(req.Body()); err == nil {
			c.applyRemote(m)
		}
	}
}

// Reject refuses an incoming call with a final status (e.g. 486 Busy Here,
// 603 Decline) and waits (within ctx) for the ACK.
func (c *Call) Reject(ctx context.Context, code int) error {
	if code < 300 || code > 699 {
		return fmt.Errorf("sipphone: Reject with %d: need a 3xx-6xx status", code)
	}
	c.mu.Lock()
	if c.outgoing {
		c.mu.Unlock()
		return errors.New("sipphone: Reject on an outgoing call")
	}
	if c.state != stateRinging {
		st := c.state
		c.mu.Unlock()
		if st == stateEnded {
			return ErrEnded
		}
		return errors.New("sipphone: call already answered")
	}
	c.state = stateEnded
	req, tx, tag := c.inviteReq, c.inviteTx, c.localTag
	c.mu.Unlock()
	err := c.p.respond(req, tx, code, reasonPhrase(code), tag, nil)
	c.end("local") // also lets the INVITE handler return
	if err != nil {
		return fmt.Errorf("sipphone: send %d: %w", code, err)
	}
	select {
	case <-tx.Acks():
	case <-tx.Done():
	case <-ctx.Done():
		return ctx.Err()
	case <-c.p.done:
	}
	return nil
}

func reasonPhrase(code int) string {
	switch code {
	case 480:
		return "Temporarily Unavailable"
	case 486:
		return "Busy Here"
	case 487:
		return "Request Terminated"
	case 488:
		return "Not Acceptable Here"
	case 500:
		return "Server Internal Error"
	case 503:
		return "Service Unavailable"
	case 600:
		return "Busy Everywhere"
	case 603:
		return "Decline"
	case 404:
		return "Not Found"
	case 403:
		return "Forbidden"
	}
	return "Rejected"
}

// Hold puts the call on hold from this phone with a re-INVITE whose SDP
// says so (see HoldSDP): o= version bumped, CSeq incremented; it waits for
// the final response and ACKs a 2xx. It works from either side of the
// dialog. A 491 (glare) is retried after the RFC 3261 §14.1 delay.
func (c *Call) Hold(ctx context.Context, how HoldSDP) error {
	if how < HoldSendonly || how > HoldZeroAddr {
		return fmt.Errorf("sipphone: unknown hold style %d", int(how))
	}
	return c.reinvite(ctx, how)
}

// Unhold resumes the call with a re-INVITE offering a=sendrecv.
func (c *Call) Unhold(ctx context.Context) error {
	return c.reinvite(ctx, 0)
}

// Reinvite sends a re-INVITE that keeps the current hold state (a session
// refresh), e.g. to check that Asterisk emits nothing new.
func (c *Call) Reinvite(ctx context.Context) error {
	c.mu.Lock()
	h := c.hold
	c.mu.Unlock()
	return c.reinvite(ctx, h)
}

func (c *Call) reinvite(ctx context.Context, hold HoldSDP) error {
	for attempt := 1; ; attempt++ {
		code, err := c.reinviteOnce(ctx, hold)
		if err != nil || code != 491 {
			return err
		}
		if attempt == 5 {
			return &StatusError{Method: "INVITE", Code: 491, Reason: "Request Pending"}
		}
		// RFC 3261 §14.1: the Call-ID owner waits 2.1-4 s, the other 0-2 s.
		wait := time.Duration(rand.Int64N(int64(2 * time.Second)))
		if c.outgoing {
			wait = 2100*time.Millisecond + time.Duration(rand.Int64N(int64(1900*time.Millisecond)))
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return ctx.Err()
		case <-c.ended:
			return ErrEnded
		}
	}
}

// reinviteOnce sends one re-INVITE; it returns 491 for glare (to retry),
// nil for success, or an error.
func (c *Call) reinviteOnce(ctx context.Context, hold HoldSDP) (int, error) {
	c.mu.Lock()
	switch {
	case c.state == stateEnded:
		c.mu.Unlock()
		return 0, ErrEnded
	case c.state != stateEstablished:
		c.mu.Unlock()
		return 0, errors.New("sipphone: call not established")
	case c.reinviting:
		c.mu.Unlock()
		return 0, errors.New("sipphone: a re-INVITE is already in progress")
	}
	c.reinviting = true
	prevHold, prevDir := c.hold, c.localDir
	c.hold = hold
	send, recv, _ := c.wants()
	c.localDir = direction(send, recv)
	c.localVersion++
	req := c.newRequest(sip.INVITE)
	cseq := c.localCSeq
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(c.sdpLocked())
	c.mu.Unlock()
	restore := func() {
		c.mu.Lock()
		c.hold, c.localDir = prevHold, prevDir
		c.mu.Unlock()
	}
	abort := func() {
		restore()
		c.mu.Lock()
		c.reinviting = false
		c.mu.Unlock()
	}
	c.p.logSent(req)
	tx, err := c.p.cli.TransactionRequest(ctx, req)
	if err != nil {
		abort()
		return 0, fmt.Errorf("sipphone: send re-INVITE: %w", err)
	}
	// The transaction is seen through to its final response even if ctx
	// ends first, so a late 2xx is still ACKed and adopted.
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	if !c.p.track() {
		tx.Terminate()
		abort()
		return 0, ErrClosed
	}
	go func() {
		defer c.p.wg.Done()
		code, err := c.finishReinvite(tx, cseq, restore)
		done <- result{code, err}
	}()
	select {
	case r := <-done:
		return r.code, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// finishReinvite waits for the final response to the phone's re-INVITE and
// acts on it.
func (c *Call) finishReinvite(tx sip.ClientTransaction, cseq uint32, restore func()) (int, error) {
	defer func() {
		c.mu.Lock()
		c.reinviting = false
		c.mu.Unlock()
	}()
	for {
		var res *sip.Response
		select {
		case res = <-tx.Responses():
		case <-tx.Done():
			select {
			case res = <-tx.Responses():
			default:
				restore()
				return 0, fmt.Errorf("sipphone: re-INVITE: %w", tx.Err())
			}
		case <-c.ended:
			tx.Terminate()
			return 0, ErrEnded
		case <-c.p.done:
			tx.Terminate()
			return 0, ErrClosed
		}
		c.p.logRecv(res)
		switch {
		case res.IsProvisional():
			continue
		case res.IsSuccess():
			c.confirm(res, tx, cseq)
			return 0, nil
		case res.StatusCode == 491:
			restore()
			return 491, nil
		case res.StatusCode == 481 || res.StatusCode == 408:
			c.end("remote")
			return 0, &StatusError{Method: "INVITE", Code: res.StatusCode, Reason: res.Reason}
		default:
			restore()
			return 0, &StatusError{Method: "INVITE", Code: res.StatusCode, Reason: res.Reason}
		}
	}
}

// handleReinvite answers the peer's re-INVITE: 200 OK with the phone's SDP
// answer (same port; sendrecv unless the phone itself holds), re-sent until
// the ACK. A re-INVITE without SDP gets the phone's offer and the answer is
// taken from the ACK. Runs on the server handler's goroutine.
func (c *Call) handleReinvite(req *sip.Request, tx sip.ServerTransaction) {
	c.mu.Lock()
	tag := c.localTag
	switch {
	case c.state == stateEnded:
		c.mu.Unlock()
		_ = c.p.respond(req, tx, 481, "Call/Transaction Does Not Exist", "", nil)
		return
	case c.state != stateEstablished:
		c.mu.Unlock()
		_ = c.p.respond(req, tx, 500, "Server Internal Error", tag, nil, sip.NewHeader("Retry-After", "1"))
		return
	case c.reinviting:
		c.mu.Unlock()
		_ = c.p.respond(req, tx, 491, "Request Pending", tag, nil)
		return
	}
	if cseq := req.CSeq(); cseq.SeqNo <= c.remoteCSeq {
		c.mu.Unlock()
		_ = c.p.respond(req, tx, 500, "CSeq Out Of Order", tag, nil)
		return
	}
	var offer *Media
	if body := req.Body(); len(body) > 0 {
		m, err := parseSDP(body)
		if err != nil {
			c.mu.Unlock()
			_ = c.p.respond(req, tx, 488, "Not Acceptable Here", tag, nil)
			return
		}
		offer = &m
	}
	c.remoteCSeq = req.CSeq().SeqNo
	if ct := req.Contact(); ct != nil {
		c.remoteTarget = *ct.Address.Clone()
	}
	send, recv, _ := c.wants()
	if offer != nil {
		c.localDir = answerDirection(offer.Direction, send, recv)
		c.applyRemote(*offer)
	} else {
		c.localDir = direction(send, recv)
		c.ackAnswer = true
	}
	c.localVersion++
	body := c.sdpLocked()
	ackCh := make(chan struct{})
	c.acks[req.CSeq().SeqNo] = ackCh
	c.mu.Unlock()

	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(c.p.contactHeader())
	res.AppendHeader(sip.NewHeader("Allow", allowed))
	res.AppendHeader(sip.NewHeader("Server", "sipphone/"+c.p.cfg.User))
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	res.SetBody(body)
	c.p.logSent(res)
	if err := tx.Respond(res); err != nil {
		return
	}
	_ = c.waitAck(context.Background(), res, tx, ackCh)
}

// SendDTMF sends digits (0-9, *, #, A-D) as RFC 4733 telephone-events on the
// call's RTP stream, with the payload type the peer negotiated: per digit
// 100 ms of event packets, three end packets, then 100 ms of audio. It
// returns when the last end packet has been sent.
func (c *Call) SendDTMF(ctx context.Context, digits string) error {
	if err := validDigits(digits); err != nil {
		return err
	}
	c.mu.Lock()
	st, ok, on := c.state, c.dtmfOK, c.senderOn
	c.mu.Unlock()
	switch {
	case st == stateEnded:
		return ErrEnded
	case st != stateEstablished || !on:
		return errors.New("sipphone: call not established")
	case !ok:
		return errors.New("sipphone: the peer did not negotiate telephone-event")
	}
	job := &dtmfJob{done: make(chan error, 1)}
	for _, d := range strings.ToUpper(digits) {
		ev, _ := dtmfEvent(d)
		job.events = append(job.events, ev)
	}
	select {
	case c.dtmfQ <- job:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ended:
		return ErrEnded
	}
	select {
	case err := <-job.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ended:
		return ErrEnded
	}
}

// Hangup ends the call: BYE on an established call (waiting for its final
// response), 603 Decline on an unanswered incoming one. The call counts as
// ended by "local" even if the BYE fails. An ended call returns ErrEnded.
func (c *Call) Hangup(ctx context.Context) error {
	c.mu.Lock()
	st := c.state
	c.mu.Unlock()
	switch st {
	case stateEnded:
		return ErrEnded
	case stateRinging:
		err := c.Reject(ctx, 603)
		if errors.Is(err, ErrEnded) {
			return ErrEnded
		}
		return err
	case stateDialing:
		return errors.New("sipphone: Hangup while Dial is in progress: cancel Dial's context instead")
	}
	return c.bye(ctx)
}

// bye sends BYE and waits for its final response.
func (c *Call) bye(ctx context.Context) error {
	c.mu.Lock()
	if c.state == stateEnded {
		c.mu.Unlock()
		return ErrEnded
	}
	req := c.newRequest(sip.BYE)
	c.mu.Unlock()
	c.end("local")
	c.p.logSent(req)
	tx, err := c.p.cli.TransactionRequest(ctx, req)
	if err != nil {
		return fmt.Errorf("sipphone: send BYE: %w", err)
	}
	defer tx.Terminate()
	for {
		select {
		case res := <-tx.Responses():
			c.p.logRecv(res)
			if res.IsProvisional() {
				continue
			}
			if !res.IsSuccess() {
				return &StatusError{Method: "BYE", Code: res.StatusCode, Reason: res.Reason}
			}
			return nil
		case <-tx.Done():
			return fmt.Errorf("sipphone: BYE: %w", tx.Err())
		case <-ctx.Done():
			return ctx.Err()
		case <-c.p.done:
			return ErrClosed
		}
	}
}
