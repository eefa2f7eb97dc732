package metrics

import (
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// Checks land in their own series however often each label set comes, concurrently too.
func TestCheckCountsBySeries(t *testing.T) {
	m := New(prometheus.NewRegistry())
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				m.Check("grpc", true, "allowed", "api", time.Millisecond)
				m.Check("grpc", false, "missing_token", "api", time.Millisecond)
				m.Check("http", true, "allowed", "default", time.Millisecond)
			}
		})
	}
	wg.Wait()
	for labels, want := range map[[4]string]float64{
		{"grpc", "allow", "allowed", "api"}:      400,
		{"grpc", "deny", "missing_token", "api"}: 400,
		{"http", "allow", "allowed", "default"}:  400,
		{"http", "deny", "missing_token", "api"}: 0,
	} {
		if got := counterValue(t, m.checks.WithLabelValues(labels[:]...)); got != want {
			t.Errorf("checks%v = %v, want %v", labels, got, want)
		}
	}
	ch := make(chan prometheus.Metric, 10)
	m.checkDuration.Collect(ch)
	close(ch)
	if n := len(ch); n != 3 {
		t.Errorf("%d duration series, want 3 (grpc/allow, grpc/deny, http/allow)", n)
	}
	if n := testing.AllocsPerRun(100, func() { m.Check("grpc", true, "allowed", "api", time.Millisecond) }); n != 0 {
		t.Errorf("a check of a known series: %v allocations", n)
	}
}
