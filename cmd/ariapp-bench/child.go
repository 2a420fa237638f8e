package main

import (
	"net/http"
	"os/exec"
	"syscall"
	"time"

	"github.com/ariapp/ariapp/ari"
)

// child is the process side of a mode that measures a separate process
// (api runs the ariapp binary, apifloor the smallest front end): the
// process, its HTTP address and client, and a REST-only ARI client that
// looks for leftovers.
type child struct {
	cmd    *exec.Cmd
	exited chan struct{}
	base   string // http://127.0.0.1:PORT
	http   *http.Client
	lister *ari.Client
}

func (c *child) cpu() time.Duration {
	if c.cmd == nil {
		return 0
	}
	t, _ := procCPU(c.cmd.Process.Pid)
	return t
}

func (c *child) memory() (uint64, string) {
	if c.cmd == nil {
		return 0, methodRSS
	}
	rss, _ := procRSS(c.cmd.Process.Pid)
	return rss, methodRSS
}

// stop ends the process with SIGTERM (it stops gracefully; calls were
// already ended by teardown), kills it if it does not exit in time, and
// closes the clients.
func (c *child) stop() {
	if c.cmd != nil {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.exited:
		case <-time.After(15 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	}
	if c.lister != nil {
		c.lister.Close()
	}
	if c.http != nil {
		c.http.CloseIdleConnections()
	}
}
