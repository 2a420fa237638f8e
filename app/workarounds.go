package app

import "time"

// Fixed waits that stand in for events Asterisk does not send. Each is run
// by a timer of the call (see timers), which stops when the call ends.
const (
	// leftBridgeGrace: a hang-up takes the channel out of the bridge
	// (ChannelLeftBridge) before its StasisEnd. A ChannelLeftBridge that
	// ariapp did not cause is looked at again after this long (bridgeCheck);
	// by then a hang-up has explained itself.
	leftBridgeGrace = 250 * time.Millisecond

	// phoneHoldMOHRecheck: a phone's hold re-INVITE passes through the
	// bridge and chan_pjsip starts music on hold on the peer, with no ARI
	// event, possibly after ChannelHold was reported. When ariapp refuses
	// that hold it stops the music at once and once more after this long.
	phoneHoldMOHRecheck = 200 * time.Millisecond

	// originateTimeoutSlack: the callee's originate carries Asterisk's own
	// ring timeout this much beyond ariapp's answer timeout, as a backstop
	// should ariapp's timer not fire (ariapp gone); ariapp's decides.
	originateTimeoutSlack = 5 * time.Second
)
