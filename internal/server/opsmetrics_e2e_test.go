package server_test

import (
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/server"
	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
)

// metricValue reads one sample of /metrics (a line "name{labels} value"); ok is false when the
// line is absent.
func metricValue(metrics, series string) (float64, bool) {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(metrics)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

// TestOperationsMetrics: betterauthz_build_info names the build; the token cache's hits,
// misses and size follow the checks, and its counters survive a reload that builds a new
// verifier; the JWKS key age counts from the last successful fetch, beside the refresh
// interval it is to be compared with.
func TestOperationsMetrics(t *testing.T) {
	var configPath string
	r := run(t, baseConfig(ba), func(o *server.Options) {
		o.Version, o.Commit = "v1.2.3", "abc123"
		configPath = o.ConfigPath
	})
	r.waitReady(t, 10*time.Second)
	_, metrics := r.get(t, "/metrics")
	if want := `betterauthz_build_info{commit="abc123",goversion="` + runtime.Version() + `",version="v1.2.3"} 1`; !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %s", want)
	}
	if v, ok := metricValue(metrics, "betterauthz_jwks_refresh_interval_seconds"); !ok || v != 300 {
		t.Errorf("refresh interval %v (%v), want 300", v, ok)
	}
	if v, ok := metricValue(metrics, `betterauthz_jwks_key_age_seconds{issuer="default"}`); !ok || v < 0 || v > 10 {
		t.Errorf("key age %v (%v), want a few seconds at most", v, ok)
	}

	m, _ := ba.Mint(betterauth.MintOptions{})
	for range 3 {
		r.check(t, bearer(m.Token))
	}
	_, metrics = r.get(t, "/metrics")
	want := map[string]float64{"betterauthz_token_cache_hits_total": 2, "betterauthz_token_cache_misses_total": 1, "betterauthz_token_cache_entries": 1, "betterauthz_token_cache_evictions_total": 0}
	for series, v := range want {
		if got, ok := metricValue(metrics, series); !ok || got != v {
			t.Errorf("%s = %v (%v), want %v", series, got, ok, v)
		}
	}

	// A new clock skew builds a new verifier with an empty cache: counters keep counting.
	writeAtomically(t, configPath, baseConfig(ba)+"clockSkew: 10s\n")
	eventually(t, 5*time.Second, func() string {
		_, metrics := r.get(t, "/metrics")
		if v, _ := metricValue(metrics, "betterauthz_token_cache_entries"); v != 0 {
			return "the reload did not replace the verifier"
		}
		return ""
	})
	r.check(t, bearer(m.Token))
	r.check(t, bearer(m.Token))
	_, metrics = r.get(t, "/metrics")
	want = map[string]float64{"betterauthz_token_cache_hits_total": 3, "betterauthz_token_cache_misses_total": 2, "betterauthz_token_cache_entries": 1}
	for series, v := range want {
		if got, ok := metricValue(metrics, series); !ok || got != v {
			t.Errorf("after the reload: %s = %v (%v), want %v", series, got, ok, v)
		}
	}
}
