package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/internal/labtest"
)

// TestLabTLS runs the binary against the lab's ARI over TLS, trusting the
// lab CA through ari.tls.ca_file, with a proxy in front of the TLS port: a
// call is held and resumed; when the proxy cuts every connection ariapp
// reports not ready, reconnects over wss once the way is open again, keeps
// the call, and holds and resumes it again.
func TestLabTLS(t *testing.T) {
	cfg := labtest.RequireTLS(t)
	proxy := labtest.NewProxy(t, labtest.TLSAddr(t))
	cfg.URL = "https://" + proxy.Addr() + "/ari"
	p := startAriapp(t, cfg, freePort(t), "ARIAPP_ARI_TLS_CA_FILE="+labtest.TLSCAFile(),
		"ARIAPP_ARI_RECONNECT_MIN=50ms", "ARIAPP_ARI_RECONNECT_MAX=200ms")

	var info app.CallInfo
	if code := p.do("POST", "/v1/calls", `{"from":"Local/talk@ariapp-test","to":"Local/talk@ariapp-test"}`, &info); code != 201 {
		t.Fatalf("originate over TLS: %d\n%s", code, p.stderr.String())
	}
	id := info.CallID
	t.Cleanup(func() { p.do("DELETE", "/v1/calls/"+id, "", nil) })
	p.waitAnswered(id)
	holdResume := func(when string) {
		t.Helper()
		var info app.CallInfo
		if code := p.do("POST", "/v1/calls/"+id+"/hold", `{"party":"caller"}`, &info); code != 200 || !info.Callee.OnHoldMusic {
			t.Fatalf("hold %s: %d %+v\n%s", when, code, info, p.stderr.String())
		}
		if code := p.do("POST", "/v1/calls/"+id+"/unhold", `{"party":"caller"}`, &info); code != 200 || info.Callee.OnHoldMusic {
			t.Fatalf("resume %s: %d %+v\n%s", when, code, info, p.stderr.String())
		}
	}
	holdResume("over TLS")

	ready := func(want int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			if r, err := http.Get(p.api + "/readyz"); err == nil {
				r.Body.Close()
				if r.StatusCode == want {
					return
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("/readyz never answered %d\n%s", want, p.stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	proxy.Cut(true)
	ready(http.StatusServiceUnavailable)
	proxy.Restore()
	ready(http.StatusOK)
	p.stderr.waitRecord(t, "a wss reconnect", func(r map[string]any) bool {
		return r["msg"] == "ari: event websocket connected" && r["reconnect"] == true
	})
	if got := p.call(id); got.State != app.CallAnswered {
		t.Fatalf("call after the reconnect: %+v", got)
	}
	holdResume("after the reconnect")
}

// TestLabTLSWrongCA: with ari.tls.ca_file naming a CA that did not sign the
// lab's certificate, ariapp stops at start-up with status 1 and one line
// that names the URL, the certificate, the CA file and the reason.
func TestLabTLSWrongCA(t *testing.T) {
	cfg := labtest.RequireTLS(t)
	other := labtest.NewCA(t, "not the lab CA")
	envs := map[string]string{"ARIAPP_ARI_URL": cfg.URL, "ARIAPP_ARI_PASSWORD": cfg.Password,
		"ARIAPP_ARI_APPLICATION": cfg.Application, "ARIAPP_ARI_TLS_CA_FILE": other.File, "ARIAPP_API_LISTEN": "127.0.0.1:0"}
	var stderr syncBuffer
	if code := run(context.Background(), []string{"--config", "../../config.yaml"}, env(envs), io.Discard, &stderr); code != exitRuntime {
		t.Fatalf("exit status %d, want %d; stderr:\n%s", code, exitRuntime, stderr.String())
	}
	line := plainLines(stderr.String())
	t.Logf("start-up failure: %s", strings.TrimSpace(line))
	for _, want := range []string{"ariapp: ARI at " + cfg.URL + ": Asterisk's certificate", `issued by "CN=ariapp lab CA"`,
		"does not verify against the CAs of ari.tls.ca_file " + other.File, "x509: certificate signed by unknown authority"} {
		if !strings.Contains(line, want) {
			t.Errorf("%q lacks %q", line, want)
		}
	}
	if strings.Count(line, "\n") != 1 {
		t.Errorf("not one line: %q", line)
	}
}
