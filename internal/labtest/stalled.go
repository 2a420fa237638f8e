package labtest

import (
	"fmt"
	"net"
	"syscall"
	"testing"
)

// StalledHTTPClient sends GET target to addr and never reads the answer.
// Its tiny receive buffer and segment size make the server's writes block
// after a few KiB instead of the megabytes loopback would otherwise take:
// a client that hung. The connection closes when the test ends.
func StalledHTTPClient(t testing.TB, addr, target string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024)
			if serr == nil {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, 536)
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: ariapp\r\n\r\n", target); err != nil {
		t.Fatal(err)
	}
	return c
}
