package ari_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/ariapp/ariapp/ari"
	"github.com/ariapp/ariapp/internal/labtest"
)

// TestIntegrationTLS: against the lab's TLS listener, trusting only the lab
// CA, REST (https) and the event stream (wss) work, and a cut connection is
// followed by a reconnect; a client that trusts another CA is refused on
// both, before anything reaches Asterisk.
func TestIntegrationTLS(t *testing.T) {
	cfg := labtest.RequireTLS(t)

	t.Run("events, REST and a reconnect through a cut", func(t *testing.T) {
		// The proxy relays the TLS bytes unchanged: the certificate ariapp
		// checks is still Asterisk's, for 127.0.0.1.
		proxy := labtest.NewProxy(t, labtest.TLSAddr(t))
		pc := cfg
		pc.URL = "https://" + proxy.Addr() + "/ari"
		pc.ReconnectMin, pc.ReconnectMax = 50*time.Millisecond, 200*time.Millisecond
		l := newLabWith(t, pc)
		l.talker() // originated over https, its StasisStart came over wss

		from := len(l.rec.Events())
		proxy.Cut(false)
		isConn := func(state ari.ConnState) func(ari.Event) bool {
			return func(ev ari.Event) bool {
				ce, ok := ev.(*ari.ConnectionEvent)
				return ok && ce.State == state
			}
		}
		_, at := l.rec.Wait(t, from, labtest.WaitTimeout, "disconnected", isConn(ari.StateDisconnected))
		ev, _ := l.rec.Wait(t, at, labtest.WaitTimeout, "reconnected", isConn(ari.StateConnected))
		if !ev.(*ari.ConnectionEvent).Reconnect {
			t.Errorf("connection event after the cut = %+v, want Reconnect", ev)
		}
		l.talker() // events flow on the new connection
	})

	t.Run("another CA refused", func(t *testing.T) {
		other := labtest.NewCA(t, "not the lab CA")
		roots := x509.NewCertPool()
		roots.AddCert(other.Cert)
		oc := cfg
		oc.TLS = &tls.Config{RootCAs: roots}
		c, err := ari.New(oc)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_, pingErr := c.Ping(ctx(t))
		for name, err := range map[string]error{"Ping": pingErr, "Connect": c.Connect(ctx(t))} {
			var verr *tls.CertificateVerificationError
			var unknown x509.UnknownAuthorityError
			if !errors.As(err, &verr) || !errors.As(err, &unknown) {
				t.Errorf("%s = %v, want x509: certificate signed by unknown authority", name, err)
			}
		}
	})
}
