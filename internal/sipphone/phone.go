package sipphone

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Config describes one lab phone.
type Config struct {
	// User is the From user, which names the PJSIP endpoint ("alice").
	User string
	// SIPAddr is where the phone listens for SIP over UDP, its static
	// contact in pjsip.conf ("127.0.0.1:5071"). It must be a loopback
	// address, or a private one (RFC 1918) such as the host's address on a
	// container network, so the phone never listens on a public interface.
	SIPAddr string
	// Server is Asterisk's SIP address ("127.0.0.1:5060"); loopback or
	// private, as SIPAddr.
	Server string
	// ToneHz is the sine the phone sends continuously while in a call
	// (e.g. alice 700, bob 1300, carol 1900), between 50 and 3900 Hz.
	ToneHz float64
	// Logger receives the phone's debug log: every SIP message it sends and
	// handles (start lines) and the life of its calls. nil discards it.
	Logger *slog.Logger
	// Observe, when set, receives every RTP packet a call's media gets
	// instead of the call's Recording (which then stays empty): a load test
	// with hundreds of calls analyses packets as they come rather than
	// keeping minutes of audio. It runs on the phone's RTP reader, so it
	// must return quickly.
	Observe func(c *Call, p Packet)
}

// Errors.
var (
	// ErrClosed: the phone has been closed.
	ErrClosed = errors.New("sipphone: phone closed")
	// ErrEnded: the call has ended (BYE sent or received, rejected,
	// cancelled, or the phone was closed).
	ErrEnded = errors.New("sipphone: call ended")
)

// StatusError is a final SIP response other than 2xx to a request the phone
// sent.
type StatusError struct {
	Method string // the request's method, e.g. "INVITE"
	Code   int    // the response's status code, e.g. 486
	Reason string // its reason phrase, e.g. "Busy Here"
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("sipphone: %s answered %d %s", e.Method, e.Code, e.Reason)
}

// rtpReadBuffer is the receive buffer the phone asks for its RTP socket.
const rtpReadBuffer = 4 << 20

// allowed is the Allow header of the phone: no UPDATE, so Asterisk uses
// re-INVITEs for its own session changes.
const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS"

// Phone is one SIP user agent on the loopback: a SIP socket on its static
// contact and an RTP socket on a free port, shared by its calls.
type Phone struct {
	cfg        Config
	log        *slog.Logger
	host       string // SIP listen IP, e.g. "127.0.0.1"
	port       int    // SIP listen port
	serverHost string
	serverPort int

	ua  *sipgo.UserAgent
	srv *sipgo.Server
	cli *sipgo.Client

	sipConn *net.UDPConn
	rtpConn *net.UDPConn
	rtpPort int

	done      chan struct{} // closed by Close
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu       sync.Mutex
	closed   bool
	calls    map[string]*Call // live calls by Call-ID
	incoming chan *Call

	routeMu sync.Mutex               // leaf lock: taken with or without c.mu
	routes  map[netip.AddrPort]*Call // live call by the peer's media address

	sendStalls atomic.Uint64 // see SendStalls
}

// New starts a phone: it listens for SIP on cfg.SIPAddr (UDP) and for RTP on
// a free loopback port. ctx bounds only the start-up. Close it when done.
func New(ctx context.Context, cfg Config) (*Phone, error) {
	if cfg.User == "" || strings.ContainsAny(cfg.User, "@:;<> \t\r\n") {
		return nil, fmt.Errorf("sipphone: bad user %q", cfg.User)
	}
	if cfg.ToneHz < 50 || cfg.ToneHz > 3900 {
		return nil, fmt.Errorf("sipphone: tone %v Hz out of range 50..3900", cfg.ToneHz)
	}
	sipAP, err := loopback("SIPAddr", cfg.SIPAddr)
	if err != nil {
		return nil, err
	}
	srvAP, err := loopback("Server", cfg.Server)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("phone", cfg.User)
	p := &Phone{
		cfg:        cfg,
		log:        log,
		host:       sipAP.Addr().String(),
		port:       int(sipAP.Port()),
		serverHost: srvAP.Addr().String(),
		serverPort: int(srvAP.Port()),
		done:       make(chan struct{}),
		calls:      map[string]*Call{},
		incoming:   make(chan *Call, 16),
		routes:     map[netip.AddrPort]*Call{},
	}

	p.sipConn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(sipAP))
	if err != nil {
		return nil, fmt.Errorf("sipphone: listen SIP: %w", err)
	}
	p.rtpConn, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(sipAP.Addr(), 0)))
	if err != nil {
		p.sipConn.Close()
		return nil, fmt.Errorf("sipphone: listen RTP: %w", err)
	}
	p.rtpPort = p.rtpConn.LocalAddr().(*net.UDPAddr).Port
	// One socket takes the RTP of all the phone's calls: a load test's
	// hundreds of calls are tens of thousands of packets a second, which
	// the default buffer (about 200 packets) loses at the first pause of
	// the reader. The kernel caps it at net.core.rmem_max.
	_ = p.rtpConn.SetReadBuffer(rtpReadBuffer)
	// Arrival times from the kernel: a busy phone reading late does not
	// make the packets it reads late.
	stampArrivals(p.rtpConn)

	// sipgo's own logs are noisy (every transaction at debug, every
	// unmatched response at info): pass on only its warnings and errors.
	sipLog := slog.New(minLevel{slog.LevelWarn, log.Handler()}).With("component", "sipgo")
	p.ua, err = sipgo.NewUA(
		sipgo.WithUserAgent(cfg.User),
		sipgo.WithUserAgentHostname(p.host),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(sipLog),
			sip.WithTransactionLayerUnhandledResponseHandler(p.onUnhandledResponse),
		),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sipLog)),
	)
	if err == nil {
		p.srv, err = sipgo.NewServer(p.ua, sipgo.WithServerLogger(sipLog))
	}
	if err == nil {
		p.cli, err = sipgo.NewClient(p.ua,
			sipgo.WithClientLogger(sipLog),
			sipgo.WithClientHostname(p.host),
			sipgo.WithClientPort(p.port),
			// send every request from the listening socket, so Asterisk
			// sees the phone at its contact address
			sipgo.WithClientConnectionAddr(sipAP.String()),
		)
	}
	if err != nil {
		p.sipConn.Close()
		p.rtpConn.Close()
		if p.ua != nil {
			p.ua.Close()
		}
		return nil, fmt.Errorf("sipphone: sipgo: %w", err)
	}
	p.srv.OnInvite(p.onInvite)
	p.srv.OnAck(p.onAck)
	p.srv.OnBye(p.onBye)
	p.srv.OnCancel(p.onCancel)
	p.srv.OnOptions(p.onOptions)
	p.srv.OnUpdate(p.onUpdate)
	p.srv.OnInfo(p.onInfo)

	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		_ = p.srv.ServeUDP(p.sipConn)
	}()
	go p.readRTP()

	// Requests must leave from the listener, which sipgo registers in its
	// pool when ServeUDP starts: wait for that.
	for {
		if c, err := p.ua.TransportLayer().GetConnection("udp", sipAP.String()); err == nil {
			_, _ = c.TryClose() // GetConnection took a reference
			break
		}
		select {
		case <-ctx.Done():
			p.Close()
			return nil, ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	p.log.Debug("phone started", "sip", sipAP.String(), "rtp_port", p.rtpPort)
	return p, nil
}

func loopback(name, s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return ap, fmt.Errorf("sipphone: %s %q: %w", name, s, err)
	}
	if !ap.Addr().Is4() || !(ap.Addr().IsLoopback() || ap.Addr().IsPrivate()) || ap.Port() == 0 {
		return ap, fmt.Errorf("sipphone: %s %q must be an IPv4 loopback or private address with a port", name, s)
	}
	return ap, nil
}

// User is the phone's From user.
func (p *Phone) User() string { return p.cfg.User }

// SendStalls counts the times one of the phone's calls sent its next RTP
// packet more than two packet times after the previous one: a phone that
// could not keep up (a busy machine), whose own stream then has a gap.
func (p *Phone) SendStalls() uint64 { return p.sendStalls.Load() }

// RTPPort is the port the phone receives RTP on (at its SIP address).
func (p *Phone) RTPPort() int { return p.rtpPort }

// Close hangs up the phone's live calls (best effort, within about two
// seconds), then stops everything it started. It is idempotent and returns
// once every goroutine of the phone has ended.
func (p *Phone) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		var live []*Call
		for _, c := range p.calls {
			live = append(live, c)
		}
		p.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		var hw sync.WaitGroup
		for _, c := range live {
			hw.Add(1)
			go func() {
				defer hw.Done()
				_ = c.Hangup(ctx)
			}()
		}
		hw.Wait()
		cancel()

		p.mu.Lock()
		p.closed = true
		live = live[:0]
		for _, c := range p.calls {
			live = append(live, c)
		}
		p.mu.Unlock()
		for _, c := range live { // e.g. a Dial still waiting for its answer
			c.end("local")
		}
		close(p.done)
		p.ua.Close() // terminates every transaction
		p.sipConn.Close()
		p.rtpConn.Close()
		p.wg.Wait()
		p.log.Debug("phone closed")
	})
	return nil
}

// track registers a goroutine (a handler or a call's sender) with the
// phone's WaitGroup; it returns false once the phone is closing.
func (p *Phone) track() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.wg.Add(1)
	return true
}

// Incoming waits for the next call to the phone. The phone has already
// answered 100 Trying and 180 Ringing; Answer or Reject it.
func (p *Phone) Incoming(ctx context.Context) (*Call, error) {
	select {
	case c := <-p.incoming:
		return c, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.done:
		return nil, ErrClosed
	}
}

// Dial calls exten through the server: INVITE sip:exten@server with the
// phone's SDP offer. It returns once a 200 OK has been ACKed and the media
// runs. A final failure is a *StatusError (e.g. 486); if ctx ends first the
// INVITE is cancelled and ctx's error returned.
func (p *Phone) Dial(ctx context.Context, exten string) (*Call, error) {
	if exten == "" || strings.ContainsAny(exten, "@:;<> \t\r\n") {
		return nil, fmt.Errorf("sipphone: bad extension %q", exten)
	}
	c := newCall(p, newID()+"@"+p.host, true)
	c.localTag = newID()
	c.localURI = sip.Uri{Scheme: "sip", User: p.cfg.User, Host: p.serverHost}
	c.remoteURI = sip.Uri{Scheme: "sip", User: exten, Host: p.serverHost}
	c.remoteTarget = sip.Uri{Scheme: "sip", User: exten, Host: p.serverHost, Port: p.serverPort}

	c.mu.Lock()
	c.localCSeq = 0
	req := c.newRequest(sip.INVITE)
	cseq := c.localCSeq
	c.localDir = SendRecv
	c.localVersion++
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(c.sdpLocked())
	c.mu.Unlock()

	if !p.addCall(c) {
		return nil, ErrClosed
	}
	p.logSent(req)
	tx, err := p.cli.TransactionRequest(ctx, req)
	if err != nil {
		c.end("local")
		return nil, fmt.Errorf("sipphone: send INVITE: %w", err)
	}
	provisional := false
	for {
		var res *sip.Response
		select {
		case res = <-tx.Responses():
		case <-tx.Done():
			select {
			case res = <-tx.Responses():
			default:
				c.end("local")
				return nil, fmt.Errorf("sipphone: INVITE: %w", tx.Err())
			}
		case <-ctx.Done():
			return nil, c.cancelInvite(req, tx, provisional, ctx.Err())
		case <-p.done:
			tx.Terminate()
			c.end("local")
			return nil, ErrClosed
		}
		p.logRecv(res)
		switch {
		case res.IsProvisional():
			provisional = true
		case res.IsSuccess():
			c.confirm(res, tx, cseq)
			return c, nil
		default:
			c.end("remote")
			return nil, &StatusError{Method: "INVITE", Code: res.StatusCode, Reason: res.Reason}
		}
	}
}

// addCall registers a live call; false if the phone is closing.
func (p *Phone) addCall(c *Call) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.calls[c.id] = c
	return true
}

func (p *Phone) removeCall(c *Call) {
	p.mu.Lock()
	if p.calls[c.id] == c {
		delete(p.calls, c.id)
	}
	p.mu.Unlock()
}

// findCall returns the call an in-dialog request from the peer belongs to:
// same Call-ID, the From tag is the peer's and the To tag ours.
func (p *Phone) findCall(req *sip.Request) *Call {
	callID := req.CallID()
	if callID == nil {
		return nil
	}
	p.mu.Lock()
	c := p.calls[callID.Value()]
	p.mu.Unlock()
	if c == nil {
		return nil
	}
	from, to := tagOf(req.From()), toTag(req.To())
	c.mu.Lock()
	defer c.mu.Unlock()
	if to != c.localTag || (c.remoteTag != "" && from != c.remoteTag) {
		return nil
	}
	return c
}

func tagOf(h *sip.FromHeader) string {
	if h == nil {
		return ""
	}
	t, _ := h.Params.Get("tag")
	return t
}

func toTag(h *sip.ToHeader) string {
	if h == nil {
		return ""
	}
	t, _ := h.Params.Get("tag")
	return t
}

// respond sends a response built from req; tag, if set, becomes the To tag
// (sipgo otherwise invents one for each response).
func (p *Phone) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason, tag string, body []byte, hdrs ...sip.Header) error {
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if tag != "" && code != 100 {
		res.To().Params.Add("tag", tag)
	}
	res.AppendHeader(sip.NewHeader("Server", "sipphone/"+p.cfg.User))
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	if body != nil {
		res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	}
	res.SetBody(body)
	p.logSent(res)
	return tx.Respond(res)
}

func (p *Phone) contactHeader() sip.Header {
	return &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: p.cfg.User, Host: p.host, Port: p.port}}
}

func (p *Phone) logRecv(m sip.Message) {
	p.log.Debug("sip recv", "msg", startLine(m), "call_id", callIDOf(m), "cseq", cseqOf(m))
}

func (p *Phone) logSent(m sip.Message) {
	p.log.Debug("sip send", "msg", startLine(m), "call_id", callIDOf(m), "cseq", cseqOf(m))
}

func startLine(m sip.Message) string {
	switch m := m.(type) {
	case *sip.Request:
		return m.StartLine()
	case *sip.Response:
		return m.StartLine()
	}
	return ""
}

func callIDOf(m sip.Message) string {
	var h *sip.CallIDHeader
	switch m := m.(type) {
	case *sip.Request:
		h = m.CallID()
	case *sip.Response:
		h = m.CallID()
	}
	if h == nil {
		return ""
	}
	return h.Value()
}

func cseqOf(m sip.Message) string {
	var h *sip.CSeqHeader
	switch m := m.(type) {
	case *sip.Request:
		h = m.CSeq()
	case *sip.Response:
		h = m.CSeq()
	}
	if h == nil {
		return ""
	}
	return h.Value()
}

// onInvite handles a new INVITE (a call to the phone) or a re-INVITE.
func (p *Phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	if !p.track() {
		_ = p.respond(req, tx, 503, "Service Unavailable", "", nil)
		return
	}
	defer p.wg.Done()
	p.logRecv(req)
	if toTag(req.To()) != "" {
		c := p.findCall(req)
		if c == nil {
			_ = p.respond(req, tx, 481, "Call/Transaction Does Not Exist", "", nil)
			return
		}
		c.handleReinvite(req, tx)
		return
	}
	p.handleNewInvite(req, tx)
}

// handleNewInvite rings: 100, 180, hands the call to Incoming, and keeps the
// INVITE transaction (this handler) alive until the call is answered,
// rejected, cancelled or the phone closes.
func (p *Phone) handleNewInvite(req *sip.Request, tx sip.ServerTransaction) {
	callID, from, cseq, contact := req.CallID(), req.From(), req.CSeq(), req.Contact()
	if callID == nil || from == nil || cseq == nil || contact == nil {
		_ = p.respond(req, tx, 400, "Bad Request", "", nil)
		return
	}
	p.mu.Lock()
	_, dup := p.calls[callID.Value()]
	p.mu.Unlock()
	if dup {
		_ = p.respond(req, tx, 482, "Loop Detected", "", nil)
		return
	}
	c := newCall(p, callID.Value(), false)
	c.localTag = newID()
	c.remoteTag = tagOf(from)
	c.remoteURI = *from.Address.Clone()
	c.localURI = *req.To().Address.Clone()
	c.remoteTarget = *contact.Address.Clone()
	c.routeSet = headerValues(req, "Record-Route")
	c.remoteCSeq = cseq.SeqNo
	c.inviteReq = req
	c.inviteTx = tx
	c.inviteCSeq = cseq.SeqNo
	if body := req.Body(); len(body) > 0 {
		m, err := parseSDP(body)
		if err == nil {
			if _, ok := m.PayloadType("PCMU"); !ok {
				err = errors.New("no PCMU")
			}
		}
		if err != nil {
			p.log.Debug("unacceptable offer", "error", err)
			_ = p.respond(req, tx, 488, "Not Acceptable Here", c.localTag, nil)
			return
		}
		c.offer = &m
	}
	if !tx.OnCancel(func(*sip.Request) { c.end("remote") }) {
		return // already terminated
	}
	_ = p.respond(req, tx, 100, "Trying", "", nil)
	_ = p.respond(req, tx, 180, "Ringing", c.localTag, nil, p.contactHeader())
	if !p.addCall(c) {
		_ = p.respond(req, tx, 503, "Service Unavailable", c.localTag, nil)
		return
	}
	select {
	case p.incoming <- c:
	default:
		_ = p.respond(req, tx, 486, "Busy Here", c.localTag, nil)
		c.end("local")
		return
	}
	select {
	case <-c.inviteFinal:
	case <-c.ended:
	case <-tx.Done():
		c.end("remote")
	case <-p.done:
	}
}

func (p *Phone) onAck(req *sip.Request, tx sip.ServerTransaction) {
	if !p.track() {
		return
	}
	defer p.wg.Done()
	p.logRecv(req)
	if c := p.findCall(req); c != nil {
		c.handleAck(req)
	}
}

func (p *Phone) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if !p.track() {
		_ = p.respond(req, tx, 503, "Service Unavailable", "", nil)
		return
	}
	defer p.wg.Done()
	p.logRecv(req)
	c := p.findCall(req)
	if c == nil {
		_ = p.respond(req, tx, 481, "Call/Transaction Does Not Exist", "", nil)
		return
	}
	if !c.acceptCSeq(req) {
		_ = p.respond(req, tx, 500, "CSeq Out Of Order", "", nil)
		return
	}
	_ = p.respond(req, tx, 200, "OK", "", nil)
	c.end("remote")
}

// onCancel answers a CANCEL that matched no INVITE transaction (sipgo
// answers matching ones itself and fires the INVITE's OnCancel).
func (p *Phone) onCancel(req *sip.Request, tx sip.ServerTransaction) {
	p.logRecv(req)
	_ = p.respond(req, tx, 481, "Call/Transaction Does Not Exist", "", nil)
}

func (p *Phone) onOptions(req *sip.Request, tx sip.ServerTransaction) {
	p.logRecv(req)
	_ = p.respond(req, tx, 200, "OK", "", nil,
		sip.NewHeader("Allow", allowed),
		sip.NewHeader("Accept", "application/sdp"))
}

// onUpdate answers an UPDATE (which the phone does not advertise): one
// without SDP (e.g. a connected-line update) gets 200; one with an offer is
// refused with 488, since the phone negotiates only in (re-)INVITEs.
func (p *Phone) onUpdate(req *sip.Request, tx sip.ServerTransaction) {
	p.logRecv(req)
	c := p.findCall(req)
	switch {
	case c == nil:
		_ = p.respond(req, tx, 481, "Call/Transaction Does Not Exist", "", nil)
	case len(req.Body()) > 0:
		_ = p.respond(req, tx, 488, "Not Acceptable Here", "", nil)
	default:
		_ = p.respond(req, tx, 200, "OK", "", nil, p.contactHeader())
	}
}

func (p *Phone) onInfo(req *sip.Request, tx sip.ServerTransaction) {
	p.logRecv(req)
	if p.findCall(req) == nil {
		_ = p.respond(req, tx, 481, "Call/Transaction Does Not Exist", "", nil)
		return
	}
	_ = p.respond(req, tx, 200, "OK", "", nil)
}

// onUnhandledResponse sees responses that matched no client transaction:
// a 2xx to an INVITE retransmitted after its transaction ended gets its ACK
// again.
func (p *Phone) onUnhandledResponse(res *sip.Response) {
	p.logRecv(res)
	if !res.IsSuccess() || res.CSeq() == nil || res.CSeq().MethodName != sip.INVITE || res.CallID() == nil {
		return
	}
	p.mu.Lock()
	c := p.calls[res.CallID().Value()]
	p.mu.Unlock()
	if c == nil {
		return
	}
	c.mu.Lock()
	ack := c.lastAck
	c.mu.Unlock()
	if ack != nil && ack.CSeq().SeqNo == res.CSeq().SeqNo {
		p.sendAck(ack.Clone())
	}
}

// sendAck writes an ACK straight to the transport (a 2xx ACK is not a
// transaction).
func (p *Phone) sendAck(ack *sip.Request) {
	p.logSent(ack)
	if err := p.cli.WriteRequest(ack); err != nil {
		p.log.Debug("ACK write failed", "error", err)
	}
}

// headerValues returns every value of a header that may repeat or hold a
// comma-separated list (Record-Route), in order.
func headerValues(m interface{ GetHeaders(string) []sip.Header }, name string) []string {
	var out []string
	for _, h := range m.GetHeaders(name) {
		out = append(out, splitList(h.Value())...)
	}
	return out
}

// splitList splits a header value at commas outside <...> and quotes.
func splitList(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i, r := range v {
		switch {
		case r == '"':
			quoted = !quoted
		case quoted:
		case r == '<':
			depth++
		case r == '>':
			depth--
		case r == ',' && depth == 0:
			if s := strings.TrimSpace(v[start:i]); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(v[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

// newID returns a random 16-hex-digit token for tags and Call-IDs.
func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// minLevel drops records below a level.
type minLevel struct {
	min slog.Level
	slog.Handler
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.min, h.Handler.WithAttrs(a)}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.min, h.Handler.WithGroup(name)}
}
