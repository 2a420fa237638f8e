package main

import (
	"context"
	"fmt"
	"net"
	"time"
)

// notifyPoll is how often the readiness notifier looks whether the first
// resync is done; it takes milliseconds once Asterisk answers.
const notifyPoll = 20 * time.Millisecond

// notifier sends systemd's service state notifications (sd_notify): each is
// one datagram to the unix socket named by $NOTIFY_SOCKET, which systemd
// sets for a Type=notify service. Without it (not under systemd, or another
// Type) a notifier does nothing.
type notifier struct {
	// socket is $NOTIFY_SOCKET: a path, or "@name" for an abstract socket
	// (which Go's net package maps to Linux's abstract namespace itself).
	socket string
}

// newNotifier reads $NOTIFY_SOCKET through lookupEnv.
func newNotifier(lookupEnv func(string) (string, bool)) notifier {
	s, _ := lookupEnv("NOTIFY_SOCKET")
	return notifier{socket: s}
}

// enabled reports whether there is a socket to notify.
func (n notifier) enabled() bool { return n.socket != "" }

// send sends one state, e.g. "READY=1" or "STOPPING=1".
func (n notifier) send(state string) error {
	if !n.enabled() {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("systemd notify socket %s: %w", n.socket, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("systemd notify socket %s: sending %s: %w", n.socket, state, err)
	}
	return nil
}

// readyWhen sends READY=1 once synced reports true — the first resync is
// done, so the calls of a previous run are adopted and the API answers
// for them — checking every poll. It reports whether it sent it: not when
// ctx ended first or there is no socket.
func (n notifier) readyWhen(ctx context.Context, synced func() bool, poll time.Duration) (bool, error) {
	if !n.enabled() {
		return false, nil
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for !synced() {
		select {
		case <-ctx.Done():
			return false, nil
		case <-t.C:
		}
	}
	if err := n.send("READY=1"); err != nil {
		return false, err
	}
	return true, nil
}
