package metrics

import (
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/betterauthz/betterauthz/jwks"
)

// RegisterBuildInfo registers betterauthz_build_info, always 1, labelled with the build.
func RegisterBuildInfo(reg prometheus.Registerer, version, commit string) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "betterauthz_build_info",
		Help:        "Always 1; its labels describe the running build.",
		ConstLabels: prometheus.Labels{"version": version, "commit": commit, "goversion": runtime.Version()},
	})
	g.Set(1)
	reg.MustRegister(g)
}

// KeySource tells the JWKS key age collector about the key sets in force: each issuer's last
// successful fetch (zero: never), and the refresh interval. ok is false while there is none.
type KeySource func() (lastSuccess map[string]time.Time, interval time.Duration, ok bool)

// RegisterKeyAge registers betterauthz_jwks_key_age_seconds{issuer} (seconds since the issuer's
// last successful JWKS fetch; absent until one succeeds) and
// betterauthz_jwks_refresh_interval_seconds, so that an alert can compare the two whatever the
// config says.
func RegisterKeyAge(reg prometheus.Registerer, src KeySource) {
	reg.MustRegister(&keyAge{src: src,
		age: prometheus.NewDesc("betterauthz_jwks_key_age_seconds",
			"Seconds since an issuer's signing keys in force were last fetched successfully (absent before the first success).", []string{"issuer"}, nil),
		interval: prometheus.NewDesc("betterauthz_jwks_refresh_interval_seconds",
			"The configured JWKS refresh interval (jwksRefreshInterval).", nil, nil),
	})
}

type keyAge struct {
	src           KeySource
	age, interval *prometheus.Desc
}

func (k *keyAge) Describe(ch chan<- *prometheus.Desc) { ch <- k.age; ch <- k.interval }

func (k *keyAge) Collect(ch chan<- prometheus.Metric) {
	last, interval, ok := k.src()
	if !ok {
		return
	}
	ch <- prometheus.MustNewConstMetric(k.interval, prometheus.GaugeValue, interval.Seconds())
	for name, at := range last {
		if !at.IsZero() {
			ch <- prometheus.MustNewConstMetric(k.age, prometheus.GaugeValue, time.Since(at).Seconds(), name)
		}
	}
}

// CacheSource returns the token cache in force (nil: none yet). A config change that changes
// verification builds a new verifier and so a new cache.
type CacheSource func() CacheStatser

// CacheStatser is a verifier whose token cache can be read.
type CacheStatser interface{ CacheStats() jwks.CacheStats }

// RegisterTokenCache registers the verified-token cache's counters and size:
// betterauthz_token_cache_{hits,misses,evictions}_total, _entries and _bytes. The counters add
// up the caches of every verifier the process has had, so they only go up.
func RegisterTokenCache(reg prometheus.Registerer, src CacheSource) {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("betterauthz_token_cache_"+name, help, nil, nil)
	}
	reg.MustRegister(&tokenCache{src: src,
		hits:      d("hits_total", "Tokens answered from the verified-token cache (verified or refused before)."),
		misses:    d("misses_total", "Tokens not in the cache, verified in full."),
		evictions: d("evictions_total", "Live cache entries dropped to make room (cache.maxEntries or cache.maxBytes reached)."),
		entries:   d("entries", "Entries in the token cache."),
		bytes:     d("bytes", "Estimated memory held by the token cache."),
	})
}

type tokenCache struct {
	src                     CacheSource
	hits, misses, evictions *prometheus.Desc
	entries, bytes          *prometheus.Desc
	mu                      sync.Mutex
	last                    CacheStatser
	base                    jwks.CacheStats // totals of the caches before last
}

func (c *tokenCache) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.hits, c.misses, c.evictions, c.entries, c.bytes} {
		ch <- d
	}
}

func (c *tokenCache) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	cur := c.src()
	if cur != c.last && c.last != nil {
		old := c.last.CacheStats() // its final counts: it no longer answers checks
		c.base.Hits += old.Hits
		c.base.Misses += old.Misses
		c.base.Evictions += old.Evictions
	}
	c.last = cur
	st := c.base
	if cur != nil {
		now := cur.CacheStats()
		st.Hits += now.Hits
		st.Misses += now.Misses
		st.Evictions += now.Evictions
		st.Entries, st.Bytes = now.Entries, now.Bytes
	}
	c.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(c.hits, prometheus.CounterValue, float64(st.Hits))
	ch <- prometheus.MustNewConstMetric(c.misses, prometheus.CounterValue, float64(st.Misses))
	ch <- prometheus.MustNewConstMetric(c.evictions, prometheus.CounterValue, float64(st.Evictions))
	ch <- prometheus.MustNewConstMetric(c.entries, prometheus.GaugeValue, float64(st.Entries))
	ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(st.Bytes))
}

// TLS counts loads of the gRPC port's certificate files.
type TLS struct {
	loads  *prometheus.CounterVec
	expiry prometheus.Gauge
}

// NewTLS registers betterauthz_grpc_tls_reloads_total{result} and
// betterauthz_grpc_tls_certificate_expiry_timestamp_seconds.
func NewTLS(reg prometheus.Registerer) *TLS {
	t := &TLS{
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "betterauthz_grpc_tls_reloads_total",
			Help: "Loads of the gRPC port's TLS files (--grpc-tls-cert, --grpc-tls-key, --grpc-client-ca), by result (success, error). A failed load keeps the last good certificate.",
		}, []string{"result"}),
		expiry: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "betterauthz_grpc_tls_certificate_expiry_timestamp_seconds",
			Help: "Unix time the gRPC port's certificate in force expires (its NotAfter).",
		}),
	}
	reg.MustRegister(t.loads, t.expiry)
	return t
}

// TLSLoaded counts a load; notAfter is the new certificate's expiry when it succeeded.
func (t *TLS) TLSLoaded(err error, notAfter time.Time) {
	if err != nil {
		t.loads.WithLabelValues("error").Inc()
		return
	}
	t.loads.WithLabelValues("success").Inc()
	t.expiry.Set(float64(notAfter.Unix()))
}
