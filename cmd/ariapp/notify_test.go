package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ariapp/ariapp/internal/labtest"
)

// notifySocket listens on a unix datagram socket, as systemd does for a
// Type=notify service, and returns its address and the datagrams' channel.
func notifySocket(t *testing.T, name string) (string, <-chan string) {
	t.Helper()
	if name == "" {
		dir, err := os.MkdirTemp("", "notify") // t.TempDir can exceed a socket path's 108 bytes
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		name = filepath.Join(dir, "notify.sock")
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			got <- string(buf[:n])
		}
	}()
	t.Cleanup(func() { conn.Close(); <-done })
	return name, got
}

func recv(t *testing.T, got <-chan string) string {
	t.Helper()
	select {
	case m := <-got:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no notification")
		return ""
	}
}

// TestNotifierReadyAfterSync: READY=1 goes out once synced reports true,
// not before; a notifier without $NOTIFY_SOCKET sends nothing and does not
// wait; a stop before the sync sends no READY=1.
func TestNotifierReadyAfterSync(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, socket string }{
		{"path socket", ""},
		{"abstract socket", "@ariapp-notify-test-" + time.Now().Format("150405.000000000")},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			addr, got := notifySocket(t, tt.socket)
			n := newNotifier(env(map[string]string{"NOTIFY_SOCKET": addr}))
			var synced atomic.Bool
			result := make(chan error, 1)
			go func() {
				sent, err := n.readyWhen(context.Background(), synced.Load, time.Millisecond)
				if err == nil && !sent {
					err = errors.New("readyWhen reports READY=1 not sent")
				}
				result <- err
			}()
			select {
			case m := <-got:
				t.Fatalf("%q sent before the sync", m)
			case <-time.After(50 * time.Millisecond):
			}
			synced.Store(true)
			if m := recv(t, got); m != "READY=1" {
				t.Errorf("notification %q, want READY=1", m)
			}
			if err := <-result; err != nil {
				t.Error(err)
			}
			if err := n.send("STOPPING=1"); err != nil {
				t.Fatal(err)
			}
			if m := recv(t, got); m != "STOPPING=1" {
				t.Errorf("notification %q, want STOPPING=1", m)
			}
		})
	}

	t.Run("no NOTIFY_SOCKET", func(t *testing.T) {
		t.Parallel()
		n := newNotifier(env(nil))
		sent, err := n.readyWhen(context.Background(), func() bool { return false }, time.Millisecond)
		if sent || err != nil || n.send("STOPPING=1") != nil {
			t.Errorf("readyWhen = %v, %v; want nothing sent, no error", sent, err)
		}
	})

	t.Run("stopped before the sync", func(t *testing.T) {
		t.Parallel()
		addr, got := notifySocket(t, "")
		n := newNotifier(env(map[string]string{"NOTIFY_SOCKET": addr}))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		defer cancel()
		if sent, err := n.readyWhen(ctx, func() bool { return false }, time.Millisecond); sent || err != nil {
			t.Errorf("readyWhen = %v, %v after the stop, want false, nil", sent, err)
		}
		select {
		case m := <-got:
			t.Errorf("%q sent", m)
		case <-time.After(20 * time.Millisecond):
		}
	})

	t.Run("socket gone", func(t *testing.T) {
		t.Parallel()
		n := newNotifier(env(map[string]string{"NOTIFY_SOCKET": filepath.Join(t.TempDir(), "none.sock")}))
		if err := n.send("READY=1"); err == nil {
			t.Error("send to a missing socket succeeded")
		}
	})
}

// TestLabRunNotifiesSystemd: under a Type=notify service ariapp sends
// READY=1 once it runs against the lab and has resynced, and STOPPING=1
// when a signal stops it, in that order.
func TestLabRunNotifiesSystemd(t *testing.T) {
	cfg := labtest.Require(t)
	addr, got := notifySocket(t, "")
	envs := map[string]string{"ARIAPP_ARI_URL": cfg.URL, "ARIAPP_ARI_PASSWORD": cfg.Password,
		"ARIAPP_ARI_APPLICATION": cfg.Application, "ARIAPP_API_LISTEN": "127.0.0.1:0", "NOTIFY_SOCKET": addr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"--config", "../../config.yaml"}, env(envs), io.Discard, &stderr) }()
	if m := recv(t, got); m != "READY=1" {
		t.Fatalf("first notification %q, want READY=1\n%s", m, stderr.String())
	}
	stderr.waitRecord(t, "the readiness logged", func(r map[string]any) bool { return r["msg"] == "told systemd that ariapp is ready" })
	cancel()
	if m := recv(t, got); m != "STOPPING=1" {
		t.Fatalf("notification after the signal %q, want STOPPING=1", m)
	}
	if code := <-done; code != exitOK {
		t.Fatalf("exit status %d\n%s", code, stderr.String())
	}
}
