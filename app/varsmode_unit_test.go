package app

import "testing"

// TestVarsModeFor: Asterisk's version decides how variables are written;
// a branch whose releases ariapp does not know is learnt from the first
// bulk write.
func TestVarsModeFor(t *testing.T) {
	tests := []struct {
		version string
		want    int32
	}{
		{"22.10.1+dfsg+~cs6.17.60671434-1", varsBulk},
		{"22.10.0", varsBulk},
		{"22.11.0-rc1", varsBulk},
		{"22.9.0", varsSingle},
		{"22.5.0", varsSingle},
		{"20.18.0", varsUnknown},
		{"23.4.0", varsUnknown},
		{"GIT-master-abc123", varsUnknown},
		{"", varsUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.version, func(t *testing.T) {
			if got := varsModeFor(tt.version); got != tt.want {
				t.Errorf("varsModeFor(%q) = %d, want %d", tt.version, got, tt.want)
			}
		})
	}
}
