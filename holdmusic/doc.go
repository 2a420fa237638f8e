// Package holdmusic owns what a held party hears, and nothing else.
//
// A Source is built once from configuration (New applies the defaults and
// validates it, as Config.Validate does, so a bad value fails at start-up,
// not at the first hold) and then starts and stops the music on channels
// through a small ARI interface. Each mode is one medium type behind one
// internal interface:
//
//   - ModeTone (default): an Asterisk tone playback, e.g. "440/500|0/2500".
//     Needs no sound files. A tone loops until stopped. Tone parts are joined
//     with '|' because ARI splits a media list at commas.
//   - ModeMOH: an Asterisk music-on-hold class. Asterisk confirms nothing
//     (204, no event, an unknown class silently falls back to the default),
//     so the class is only checked for syntax.
//   - ModeSounds: a list of sound files played in a loop: the app calls
//     Restart on the playback's PlaybackFinished (state done).
//
// The package does not wait for events itself; it tells the caller which
// playback id to expect (Playing.PlaybackID) so the call's own event loop can
// confirm the start (PlaybackStarted) or notice a failure.
package holdmusic
