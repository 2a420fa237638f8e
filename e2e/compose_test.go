package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ariapp/ariapp/app"
	"github.com/ariapp/ariapp/internal/labtest"
	"github.com/ariapp/ariapp/internal/sipphone"
)

// composeEnv is what lab/compose.sh test tells TestCompose about the stack
// it started.
type composeEnv struct {
	api       string // ariapp's control API, e.g. http://127.0.0.1:28090
	ari       string // Asterisk's ARI, e.g. http://127.0.0.1:28088/ari
	sip       string // Asterisk's SIP as published on the host
	phoneHost string // the host's address on the project network
	container string // ariapp's container id
}

func composeFromEnv(t *testing.T) composeEnv {
	t.Helper()
	if os.Getenv("ARIAPP_COMPOSE") != "1" {
		t.Skip("the compose lab test runs from lab/compose.sh test (ARIAPP_COMPOSE=1)")
	}
	e := composeEnv{
		api:       os.Getenv("ARIAPP_COMPOSE_API"),
		ari:       os.Getenv("ARIAPP_COMPOSE_ARI"),
		sip:       os.Getenv("ARIAPP_COMPOSE_SIP"),
		phoneHost: os.Getenv("ARIAPP_COMPOSE_PHONE_HOST"),
		container: os.Getenv("ARIAPP_COMPOSE_ARIAPP_CONTAINER"),
	}
	if e.api == "" || e.ari == "" || e.sip == "" || e.phoneHost == "" || e.container == "" {
		t.Fatalf("ARIAPP_COMPOSE=1 needs ARIAPP_COMPOSE_API, _ARI, _SIP, _PHONE_HOST and _ARIAPP_CONTAINER: %+v", e)
	}
	return e
}

// composeLab is the lab of e2e_test.go with ariapp in its container: the
// phones and the event checks are the same, the API is ariapp's own over
// the published port.
type composeLab struct {
	*lab
	env composeEnv
	hc  *http.Client // its own connections, closed at the end (goleak)
}

// stream reads ariapp's event stream into a fresh log until ariapp closes
// it (its restart) or the test ends; the returned channel is closed then.
func (c *composeLab) stream() <-chan struct{} {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", c.env.api+"/v1/events", nil)
	resp, err := c.hc.Do(req)
	if err != nil {
		cancel()
		c.t.Fatalf("event stream: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		cancel()
		c.t.Fatalf("event stream: %s", resp.Status)
	}
	log := labtest.NewLog[app.Event]()
	c.events = log
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer log.Close()
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var ev app.Event
				if json.Unmarshal([]byte(data), &ev) == nil {
					log.Add(ev)
				}
			}
		}
	}()
	c.t.Cleanup(func() { cancel(); <-done })
	return done
}

// apiCall sends one API request; it returns the status and the body.
func (c *composeLab) apiCall(method, path, body string, out any) (int, string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(ctx, method, c.env.api+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		_ = json.Unmarshal(data, out)
	}
	return resp.StatusCode, string(data)
}

// channels lists the channel ids Asterisk has, over the published ARI.
func (c *composeLab) channels() []string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", c.env.ari+"/channels", nil)
	req.SetBasicAuth("ariapp", envOr("ARIAPP_ARI_PASSWORD", "ariapp-lab-secret"))
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("ARI channels: %v", err)
	}
	defer resp.Body.Close()
	var chans []struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&chans) != nil {
		c.t.Fatalf("ARI channels: %s", resp.Status)
	}
	ids := make([]string, 0, len(chans))
	for _, ch := range chans {
		ids = append(ids, ch.ID)
	}
	return ids
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// restartAriapp restarts ariapp's container (SIGTERM, then a new start) and
// waits until the API answers again.
func (c *composeLab) restartAriapp() {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "restart", "-t", "15", c.env.container).CombinedOutput(); err != nil {
		c.t.Fatalf("docker restart ariapp: %v: %s", err, out)
	}
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", c.env.api+"/readyz", nil)
		if resp, err := c.hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-ctx.Done():
			c.t.Fatal("ariapp's API not ready again within 60 s of the restart")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// TestCompose: the compose lab end to end, from the host, through the
// containers (Asterisk and ariapp on their bridge network, reached on the
// published ports). alice calls bob; alice holds by re-INVITE and resumes;
// the API holds alice's side again; ariapp's container restarts while bob
// is held: bob keeps hearing the hold tone, the new ariapp adopts the call
// and the API resumes it; the API hangs up. Every step shows on the event
// stream.
func TestCompose(t *testing.T) {
	env := composeFromEnv(t)
	c := &composeLab{lab: &lab{t: t}, env: env, hc: &http.Client{Transport: &http.Transport{}}}
	t.Cleanup(c.hc.CloseIdleConnections) // runs last: after the streams end
	c.alice = c.phone("alice", env.phoneHost+":5071", env.sip, aliceHz)
	c.bob = c.phone("bob", env.phoneHost+":5072", env.sip, bobHz)
	first := c.stream()

	callID, ac, bc := c.call()
	t.Logf("call %s answered; alice and bob hear each other", callID)

	// Hold by re-INVITE, resume by re-INVITE.
	c.holdByPhone(callID, ac, bc, sipphone.HoldSendonly, aliceHz, 1)
	if f := ac.Audio().Hears(time.Now().Add(-window/2), time.Now(), bobHz); f > 0.02 {
		t.Errorf("the holder hears bob in %.0f%% of packets; it should hear silence", 100*f)
	}
	c.resumeByPhone(callID, ac, bc, aliceHz, 1)
	from := time.Now().Add(100 * time.Millisecond)
	time.Sleep(window)
	c.expectTalking(ac, bc, from, time.Now())
	t.Log("hold and resume by re-INVITE: bob heard the hold tone, not alice")

	// Hold through the control API.
	var info app.CallInfo
	if code, body := c.apiCall("POST", "/v1/calls/"+callID+"/hold", `{"party":"caller"}`, &info); code != 200 || info.Caller.State != app.Hold {
		t.Fatalf("API hold: %d %s", code, body)
	}
	if ev := c.wait(callID, holdOK, 2); ev.Source != app.SourceAPI {
		t.Fatalf("second hold's source %q, want api", ev.Source)
	}
	c.hearsWithin(bc, holdHz, "bob hears the hold tone")
	from = time.Now()
	time.Sleep(window)
	c.expectHeld(bc, aliceHz, from, time.Now())
	c.expectSequence(callID, started, answered, holdOK, unholdOK, holdOK)
	t.Log("hold by the API: bob hears the hold tone, not alice; the events are on the stream")

	// ariapp's container restarts mid-hold.
	restartAt := time.Now()
	c.restartAriapp()
	select {
	case <-first:
	case <-time.After(5 * time.Second):
		t.Fatal("the first event stream did not end with ariapp's restart")
	}
	t.Logf("ariapp's container restarted in %v", time.Since(restartAt).Round(time.Millisecond))
	c.expectHeld(bc, aliceHz, restartAt, time.Now())
	c.stream()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, body := c.apiCall("GET", "/v1/calls/"+callID, "", &info)
		if code == 200 && info.Caller.State == app.Hold && info.Callee.OnHoldMusic {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted ariapp did not adopt the held call: %d %s", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
	from = time.Now()
	time.Sleep(window)
	c.expectHeld(bc, aliceHz, from, time.Now())
	t.Log("the restarted ariapp adopted the call; bob kept hearing the hold tone")

	// The adopted call resumes and ends through the API.
	if code, body := c.apiCall("POST", "/v1/calls/"+callID+"/unhold", `{"party":"caller"}`, &info); code != 200 || info.Caller.State != app.Live {
		t.Fatalf("API resume after the restart: %d %s", code, body)
	}
	c.hearsWithin(bc, aliceHz, "bob hears alice again")
	from = time.Now().Add(100 * time.Millisecond)
	time.Sleep(window)
	c.expectTalking(ac, bc, from, time.Now())
	if code, body := c.apiCall("DELETE", "/v1/calls/"+callID, "", nil); code != 200 {
		t.Fatalf("API hangup: %d %s", code, body)
	}
	for _, call := range []*sipphone.Call{ac, bc} {
		select {
		case <-call.Ended():
		case <-time.After(5 * time.Second):
			t.Fatal("a phone's call did not end after the API hang-up")
		}
	}
	c.wait(callID, ended, 1)
	if ev := c.wait(callID, unholdOK, 1); ev.Source != app.SourceAPI {
		t.Fatalf("resume's source %q, want api", ev.Source)
	}
	c.expectSequence(callID, unholdOK, ended)
	var left []string
	for range 50 {
		if left = c.channels(); len(left) == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Fatalf("channels left in Asterisk after the hang-up: %v", left)
	}
	t.Log("resume and hang-up of the adopted call by the API: done, nothing left in Asterisk")
}

// phone starts a lab phone on the host's address of the compose network.
func (c *composeLab) phone(user, addr, server string, hz float64) *sipphone.Phone {
	c.t.Helper()
	p, err := sipphone.New(context.Background(), sipphone.Config{User: user, SIPAddr: addr, Server: server, ToneHz: hz})
	if err != nil {
		c.t.Fatalf("phone %s: %v", user, err)
	}
	c.t.Cleanup(func() { _ = p.Close() })
	return p
}
