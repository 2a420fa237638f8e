// Package metricstest checks a Prometheus exposition the way an operator's
// tooling does, with promtool.
package metricstest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// required reports whether a missing promtool fails the test rather than
// skipping it: in CI, and in lab/test.sh's run (ARIAPP_REQUIRE_LAB=1),
// which installs it (Debian package prometheus).
func required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("ARIAPP_REQUIRE_LAB") == "1"
}

// Promtool runs `promtool check metrics` on exposition (the text format)
// and fails the test on any problem it reports. Without promtool it skips
// the test, or fails it in CI.
func Promtool(t testing.TB, exposition []byte) {
	t.Helper()
	bin, err := exec.LookPath("promtool")
	if err != nil {
		if required() {
			t.Fatalf("promtool is required in CI but not installed (Debian package prometheus; lab/test.sh installs it): %v", err)
		}
		t.Skipf("promtool not installed (apt-get install prometheus): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition)
	out, err := cmd.CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Fatalf("promtool check metrics: %v\n%s\nexposition:\n%s", err, out, exposition)
	}
}

// Samples are the values of one scrape, by series: the family name for a
// counter or gauge, name_count and name_sum for a histogram.
type Samples struct {
	fams map[string]*dto.MetricFamily
}

// Parse reads a text exposition.
func Parse(exposition []byte) (Samples, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(exposition))
	if err != nil {
		return Samples{}, fmt.Errorf("metricstest: parsing the exposition: %w", err)
	}
	return Samples{fams: fams}, nil
}

// MustParse is Parse that fails the test on an error.
func MustParse(t testing.TB, exposition []byte) Samples {
	t.Helper()
	s, err := Parse(exposition)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Value is the value of the series name{labels} (label names and values
// alternating; the series' other labels do not matter, and every series
// that matches is summed). ok is false when no series matches.
func (s Samples) Value(name string, labels ...string) (v float64, ok bool) {
	fam, field := s.fams[name], ""
	if fam == nil {
		for _, suffix := range []string{"_count", "_sum"} {
			if base, cut := strings.CutSuffix(name, suffix); cut && s.fams[base] != nil && s.fams[base].GetType() == dto.MetricType_HISTOGRAM {
				fam, field = s.fams[base], suffix
			}
		}
	}
	if fam == nil {
		return 0, false
	}
	for _, m := range fam.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		ok = true
		switch {
		case field == "_count":
			v += float64(m.GetHistogram().GetSampleCount())
		case field == "_sum":
			v += m.GetHistogram().GetSampleSum()
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Untyped != nil:
			v += m.GetUntyped().GetValue()
		}
	}
	return v, ok
}

// LabelValues returns every label value of every series, by label name.
func (s Samples) LabelValues() map[string][]string {
	out := map[string][]string{}
	for _, fam := range s.fams {
		for _, m := range fam.GetMetric() {
			for _, lp := range m.GetLabel() {
				out[lp.GetName()] = append(out[lp.GetName()], lp.GetValue())
			}
		}
	}
	return out
}

// Families are the names of the families in the scrape.
func (s Samples) Families() []string {
	out := make([]string, 0, len(s.fams))
	for n := range s.fams {
		out = append(out, n)
	}
	return out
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}
