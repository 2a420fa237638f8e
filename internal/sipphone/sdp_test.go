package sipphone

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestBuildSDP(t *testing.T) {
	got := string(buildSDP(sdpParams{User: "alice", SessionID: 7, Version: 9, Addr: "127.0.0.1", Port: 30000, DTMFPT: 101, Direction: SendOnly}))
	want := "v=0\r\n" +
		"o=alice 7 9 IN IP4 127.0.0.1\r\n" +
		"s=sipphone\r\n" +
		"c=IN IP4 127.0.0.1\r\n" +
		"t=0 0\r\n" +
		"m=audio 30000 RTP/AVP 0 101\r\n" +
		"a=rtpmap:0 PCMU/8000\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\n" +
		"a=fmtp:101 0-16\r\n" +
		"a=ptime:20\r\n" +
		"a=sendonly\r\n"
	if got != want {
		t.Fatalf("buildSDP:\n%s\nwant:\n%s", got, want)
	}
	m, err := parseSDP([]byte(got))
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 9 || m.Addr != netip.MustParseAddr("127.0.0.1") || m.Port != 30000 || m.Direction != SendOnly || m.Ptime != 20 || !slices.Equal(m.Formats, []uint8{0, 101}) {
		t.Fatalf("round trip = %+v", m)
	}
}

// asteriskAnswer is what Asterisk 22 answers to a phone's offer (shape as
// seen on the lab).
const asteriskAnswer = "v=0\r\n" +
	"o=- 1234 1236 IN IP4 127.0.0.1\r\n" +
	"s=Asterisk\r\n" +
	"c=IN IP4 127.0.0.1\r\n" +
	"t=0 0\r\n" +
	"m=audio 20042 RTP/AVP 0 101\r\n" +
	"a=rtpmap:0 PCMU/8000\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\n" +
	"a=fmtp:101 0-16\r\n" +
	"a=ptime:20\r\n" +
	"a=maxptime:140\r\n" +
	"a=recvonly\r\n"

func TestParseSDP(t *testing.T) {
	m, err := parseSDP([]byte(asteriskAnswer))
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 1236 || m.AddrPort() != netip.MustParseAddrPort("127.0.0.1:20042") || m.Direction != RecvOnly {
		t.Errorf("parsed %+v", m)
	}
	if pt, ok := m.PayloadType("telephone-event"); !ok || pt != 101 {
		t.Errorf("telephone-event = %d %v", pt, ok)
	}
	if pt, ok := m.PayloadType("pcmu"); !ok || pt != 0 {
		t.Errorf("PCMU = %d %v", pt, ok)
	}

	// Media-level c= and direction win over session level; LF line ends work;
	// a second audio stream is ignored; the static type 0 needs no rtpmap.
	m, err = parseSDP([]byte(strings.Join([]string{
		"v=0", "o=x 1 2 IN IP4 10.0.0.1", "s=-", "c=IN IP4 0.0.0.0", "t=0 0", "a=inactive",
		"m=audio 4000 RTP/AVP 0 96", "c=IN IP4 127.0.0.2", "a=rtpmap:96 telephone-event/8000", "a=sendonly",
		"m=audio 5000 RTP/AVP 8", "c=IN IP4 127.0.0.3", "a=recvonly", "",
	}, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	if m.AddrPort() != netip.MustParseAddrPort("127.0.0.2:4000") || m.Direction != SendOnly {
		t.Errorf("media-level override: %+v", m)
	}
	if pt, _ := m.PayloadType("telephone-event"); pt != 96 {
		t.Errorf("telephone-event = %d", pt)
	}
	if _, ok := m.PayloadType("PCMU"); !ok {
		t.Error("static PCMU not found")
	}

	// Session-level hold by address and direction.
	m, err = parseSDP([]byte("v=0\r\no=x 1 3 IN IP4 1.2.3.4\r\nc=IN IP4 0.0.0.0\r\na=inactive\r\nm=audio 4000 RTP/AVP 0\r\n"))
	if err != nil || !m.Addr.IsUnspecified() || m.Direction != Inactive {
		t.Errorf("session-level: %+v %v", m, err)
	}

	for _, bad := range []string{
		"",
		"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 1 RTP/AVP 0\r\n",                      // no o=
		"v=0\r\no=x 1 1 IN IP4 1.1.1.1\r\nc=IN IP4 127.0.0.1\r\n",                   // no audio
		"v=0\r\no=x 1 1 IN IP4 1.1.1.1\r\nm=audio 1 RTP/AVP 0\r\n",                  // no c=
		"v=0\r\no=x 1 1 IN IP4 1.1.1.1\r\nc=IN IP4 host\r\nm=audio 1 RTP/AVP 0\r\n", // not an IP
		"v=0\r\no=x 1 z IN IP4 1.1.1.1\r\nc=IN IP4 1.1.1.1\r\nm=audio 1 RTP/AVP 0\r\n",
		"v=0\r\no=x 1 1 IN IP4 1.1.1.1\r\nc=IN IP4 1.1.1.1\r\nm=audio 99999 RTP/AVP 0\r\n",
	} {
		if m, err := parseSDP([]byte(bad)); err == nil {
			t.Errorf("parseSDP(%q) = %+v, want an error", bad, m)
		}
	}
}

func TestAnswerDirection(t *testing.T) {
	for _, tc := range []struct {
		offer      string
		send, recv bool
		want       string
	}{
		{SendRecv, true, true, SendRecv},
		{SendOnly, true, true, RecvOnly},
		{RecvOnly, true, true, SendOnly},
		{Inactive, true, true, Inactive},
		{SendRecv, true, false, SendOnly}, // the phone holds with sendonly
		{SendRecv, false, false, Inactive},
		{SendOnly, true, false, Inactive},
	} {
		if got := answerDirection(tc.offer, tc.send, tc.recv); got != tc.want {
			t.Errorf("answer to %s (send %v recv %v) = %s, want %s", tc.offer, tc.send, tc.recv, got, tc.want)
		}
	}
}

func TestSplitList(t *testing.T) {
	got := splitList(`<sip:a@h;lr>, "x, y" <sip:b@h;lr>,<sip:c@h>`)
	want := []string{"<sip:a@h;lr>", `"x, y" <sip:b@h;lr>`, "<sip:c@h>"}
	if !slices.Equal(got, want) {
		t.Errorf("splitList = %q", got)
	}
}
