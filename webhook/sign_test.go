package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"testing"
)

// TestSignVector checks Sign against the Standard Webhooks specification's
// published example.
func TestSignVector(t *testing.T) {
	t.Parallel()
	key, err := SecretKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}

// recompute is an independent signature: the signed content built as one
// string.
func recompute(key []byte, id, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.%s", id, timestamp, body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func TestSignMatchesRecompute(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		key  []byte
		id   string
		ts   int64
		body string
	}{
		{"event", []byte("k"), "msg_c1_1", 1764590000, `{"event":"call_started"}`},
		{"empty body", []byte{0, 1, 2}, "msg_x_2", 0, ""},
		{"negative time", []byte("long key long key long key long key long key long key long key long key"), "m", -5, "{}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Sign(tt.key, tt.id, tt.ts, []byte(tt.body))
			if want := recompute(tt.key, tt.id, fmt.Sprint(tt.ts), []byte(tt.body)); got != want {
				t.Errorf("Sign = %s, want %s", got, want)
			}
			if other := Sign(tt.key, tt.id+"x", tt.ts, []byte(tt.body)); other == got {
				t.Errorf("another id gives the same signature %s", got)
			}
		})
	}
}

func TestSecretKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, secret string
		want         string
		wantErr      bool
	}{
		{"standard form", "whsec_" + base64.StdEncoding.EncodeToString([]byte("the key")), "the key", false},
		{"plain text", "plain secret", "plain secret", false},
		{"bad base64", "whsec_not*base64", "", true},
		{"empty after prefix", "whsec_", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := SecretKey(tt.secret)
			if (err != nil) != tt.wantErr {
				t.Fatalf("SecretKey(%q) error %v, want error %v", tt.secret, err, tt.wantErr)
			}
			if string(got) != tt.want {
				t.Errorf("SecretKey(%q) = %q, want %q", tt.secret, got, tt.want)
			}
		})
	}
}
