// Package app is ariapp's Stasis application: it owns two-party calls and
// the hold state machine of ../shared/SPEC.md (rules H1–H6, R1–R3, M1–M2).
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
// Each party's hold is tracked on its own (mutual hold is allowed). The media
// follows one rule: a party is on the hold music exactly when its peer holds,
// and in the bridge otherwise. A party's reported state is HOLD exactly when
// it holds, LIVE otherwise — the held party stays LIVE (H4). Only the holder
// can resume (R1); a resume restores only the resumer's side (M2). A failed
// hold is rolled back (H5); a failed resume hangs the call up (R3).
//
// Success is decided from Asterisk's events (ChannelLeftBridge,
// PlaybackStarted, PlaybackFinished, ChannelEnteredBridge), not from a 2xx
// reply alone.
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
//
// # Events
//
// Every state change produces exactly one Event (call_started,
// call_answered, hold_success, hold_failed, unhold_success, unhold_failed,
// call_ended), in order per call, written to the zap log and published to
// subscribers (Subscribe). A slow subscriber loses events (counted and
// logged), it never stalls call handling.
package app
