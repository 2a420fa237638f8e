//go:build !linux

package sipphone

import (
	"net"
	"time"
)

// stampArrivals: kernel arrival times are read on Linux only; elsewhere
// the phone takes the time it reads a packet.
func stampArrivals(*net.UDPConn) {}

func kernelTime([]byte) (time.Time, bool) { return time.Time{}, false }
