// Package sipphone is a SIP phone for end-to-end tests: lab phones (alice,
// bob, carol) that call each other through Asterisk and ariapp, press hold,
// send DTMF, and send and record real audio. It is test-only: only _test.go
// files, internal/ code and the benchmark command (cmd/ariapp-bench, whose
// SIP mode runs hundreds of calls on two phones) may import it
// (TestOnlyTestsImportThePhone checks the rest of the module).
//
// # Signalling
//
// SIP over UDP on the loopback, built on github.com/emiago/sipgo for the
// message parser, the transport and the RFC 3261/6026 transactions. The
// dialogs are the phone's own (see Call): in-dialog requests go to the
// peer's Contact (updated by target refreshes) with the route set (the
// 2xx's Record-Route, reversed, for a call the phone placed; the INVITE's
// for one it received; loose routing only), the dialog's tags and the
// phone's own CSeq, which grows with every request. Every request leaves
// from the phone's SIP socket (Config.SIPAddr, its static contact in
// pjsip.conf), whose From user names the PJSIP endpoint.
//
// What a phone does by itself:
//   - an INVITE: 100 Trying and 180 Ringing, then the call waits in
//     Incoming for Answer or Reject; a CANCEL ends it (EndedBy "remote");
//   - a retransmitted INVITE, re-INVITE or BYE is absorbed by its
//     transaction (the same provisional or final response again; never a
//     second call);
//   - its own 2xx to an INVITE is re-sent (T1 doubling up to T2) until the
//     ACK arrives; a retransmitted 2xx to its own INVITE is ACKed again;
//   - a re-INVITE from the peer (Asterisk re-negotiating, or a peer's hold)
//     gets 200 OK with the phone's SDP on the same port: sendrecv unless the
//     offer or the phone's own hold says otherwise (RFC 3264: sendonly is
//     answered recvonly, inactive inactive), then its ACK is awaited; a
//     re-INVITE while the phone's own is pending gets 491, a stale CSeq 500;
//   - OPTIONS gets 200; INFO and a body-less UPDATE in a dialog get 200;
//   - glare on its own re-INVITE (491) is retried after RFC 3261 §14.1's
//     delay.
//
// # Media
//
// Each phone has one RTP socket on a free loopback port, offered as
//
//	c=IN IP4 127.0.0.1
//	m=audio <port> RTP/AVP 0 101
//	a=rtpmap:0 PCMU/8000
//	a=rtpmap:101 telephone-event/8000
//	a=fmtp:101 0-16
//	a=ptime:20
//	a=sendrecv
//
// While a call's media runs, the phone sends every 20 ms 160 µ-law samples
// of its sine (Config.ToneHz, continuous phase, about -12 dBFS) to the
// address and port of the peer's latest SDP. It sends when its own SDP says
// sendrecv or sendonly and the peer's says sendrecv or recvonly with a real
// address: so a phone holding with a=sendonly keeps sending, one holding
// with a=inactive stops, one holding with c=0.0.0.0 keeps sending, and one
// held by its peer (offered sendonly) stops. SendDTMF replaces the audio by
// RFC 4733 telephone-events (the payload type the peer negotiated) for
// 100 ms per digit plus three end packets.
//
// Everything that arrives on the RTP port while a call's media runs is
// recorded in that call's Recording (arrival time, header, µ-law decoded to
// PCM). Tone, Present, Recording.Hears, Recording.FirstHeard and
// Recording.WaitHeard tell which tone a phone hears: give each phone its
// own frequency and "who hears whom" is a question about frequencies.
//
// # A test
//
//	alice, _ := sipphone.New(ctx, sipphone.Config{User: "alice", SIPAddr: "127.0.0.1:5071", Server: "127.0.0.1:5060", ToneHz: 700})
//	defer alice.Close()
//	call, err := alice.Dial(ctx, "bob") // returns once the 200 OK is ACKed
//	...
//	t0 := time.Now()
//	if _, err := call.Audio().WaitHeard(ctx, t0, 1300); err != nil { ... } // bob's tone
//	_ = call.Hold(ctx, sipphone.HoldSendonly)                              // ChannelHold in ARI
//	_ = call.Hangup(ctx)
//
// # Asterisk 22 as seen by this phone (lab, loopback)
//
//   - Asterisk's answer to a=sendonly is a=recvonly, to a=inactive
//     a=inactive, and to c=0.0.0.0 with a=sendrecv a=recvonly (it treats
//     the zero address like sendonly). Each of the three emits ChannelHold;
//     a=sendrecv emits ChannelUnhold; a repeated sendonly re-INVITE (new o=
//     version) emits nothing.
//   - ChannelHold reaches an ARI client about 1 ms after the re-INVITE
//     leaves, together with the 200 OK.
//   - Asterisk sends RTP from the address and port in its SDP, on average
//     every 20.00 ms, each gap within about ±1 ms (playback or mixing
//     bridge); a mixing bridge does not echo a phone's own audio back.
//   - Asterisk's INVITE offers PCMU and telephone-event 101; its Contact,
//     the request URI of the phone's in-dialog requests, is
//     sip:asterisk@127.0.0.1:5060; it sends no Record-Route.
//
// Only one process at a time can hold a lab phone's SIP port, so tests
// using the same lab phone must not run concurrently (go test runs packages
// in parallel).
package sipphone
