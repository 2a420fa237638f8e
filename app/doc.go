// Package app is ariapp's Stasis application: it owns two-party calls and
// their hold state machine. The rule ids below (H1–H6, R1–R3, M1–M2) are
// the ones the tests cite.
//
// # Calls
//
// A channel that enters Stasis with the arguments "dial,TARGET" becomes the
// caller of a new call. ariapp rings it back, originates TARGET into the
// same application (the callee) and, when the callee answers, answers the
// caller and joins both in a mixing bridge. Busy, unreachable and
// unanswered callees end the call with a matching cause. Either party
// hanging up, at any point, ends the call: the other channel is hung up,
// playbacks stopped and the bridge destroyed. ariapp leaves nothing it
// created behind in Asterisk.
//
// # Hold
//
// Hold is possible only on an answered, bridged call (H1), requested by
// either party (H2) through the API, the phone's hold key (ChannelHold) or
// a DTMF code; all three run the same code. On success the holder's state
// is HOLD and hold_success is reported (H3); the held party stays LIVE and
// hears hold music while the holder hears silence (H4). A hold refused by
// policy or failed in an ARI step reports hold_failed and leaves the media
// exactly as before (H5). A party's info says when a UI should not offer
// hang-up: while that party holds (H6). Only the holder can resume (R1); a
// resume reports unhold_success and brings the held party back into the
// bridge (R2); a resume that fails reports unhold_failed and hangs the call
// up (R3). Each party's hold is tracked on its own (M1), and a resume
// restores only the resumer's side (M2).
//
// Hence the media rule: a party is on the hold music exactly when its peer
// holds (hearsMusic), and in the bridge otherwise. Each party's media is a
// named state (media.go: bridged, leaving, on_music, rejoining, out) changed
// by two moves only, toMusic and toBridge, which hold, the rollback of a
// failed hold, resume and the repair after a restart share. Each step is
// confirmed by Asterisk's events (ChannelLeftBridge, PlaybackStarted,
// PlaybackFinished, ChannelEnteredBridge), not by a 2xx reply alone. Who
// holds is kept once, on the parties (holdSince).
//
// Hold timers (Config.HoldTimers, off by default) run per hold from its
// start: a reminder to the holder, played on its own channel in the bridge,
// reported as hold_reminder; and a maximum after which the hold is resumed
// (unhold_success, source timer) or the call hung up (cause hold_timeout).
//
// # Mute
//
// Apart from hold, a party can be muted per direction (MuteDirection: "in"
// cuts what it says, "out" what it hears): ARI's channel mute, through
// the call's actor like every operation, reported as muted and unmuted.
// Mute and hold never change each other: Asterisk keeps a channel's mute
// across bridge moves and playbacks. The mute is recorded in a global
// variable (VarMutePrefix) for a restarted ariapp.
//
// Failed operations return an *OpError, which wraps both the app sentinel
// (ErrHoldFailed, ...) and the ARI error that caused it.
//
// # Concurrency
//
// Every call is an actor: at most one goroutine owns its state and runs its
// operations one at a time; different calls run in parallel. One dispatcher
// goroutine routes ARI events to the calls by channel, bridge and playback
// id through unbounded per-call mailboxes, so a call waiting on Asterisk
// never stalls the others. A call's goroutine exists only while it has
// work: its mailbox starts one when a message arrives and none runs, and
// it ends when the mailbox is empty, so idle calls cost no goroutine.
// Timers a call starts (ring timeout, the waits of workarounds.go, the
// hold timers) belong to it and stop when it ends.
//
// Files: actor.go (the loop, its messages, waiting for events), call.go
// (the call's types and snapshot), lifecycle.go (set-up and tear-down),
// hold.go (hold and resume), holdtimers.go (reminder and maximum of a
// hold), mute.go (mute and unmute), media.go (the media state and its moves),
// triggers.go (phone and DTMF), resync.go (restart and reconnect),
// dispatch.go (routing ARI events to calls), callevents.go and hub.go (the
// events ariapp reports and their subscribers).
//
// # Events
//
// Every state change produces exactly one Event (call_started,
// call_answered, hold_success, hold_failed, hold_reminder, unhold_success,
// unhold_failed, call_ended), in order per call, written to the zap log and published to
// subscribers (Subscribe). A slow subscriber loses events (counted and
// logged), it never stalls call handling.
package app
