// Package metrics holds betterauthz's Prometheus collectors, registered on a registry the caller
// owns (no global registration).
package metrics

import (
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/betterauthz/betterauthz/jwks"
)

// Metrics are the process's collectors.
type Metrics struct {
	checks            *prometheus.CounterVec
	dryRunDenials     *prometheus.CounterVec
	checkDuration     *prometheus.HistogramVec
	jwksFetches       *prometheus.CounterVec
	jwksFetchDuration *prometheus.HistogramVec
	jwksKeys          *prometheus.GaugeVec
	jwksLastSuccess   *prometheus.GaugeVec
	jwksStale         *prometheus.GaugeVec
	jwksFailures      *prometheus.CounterVec
	configReloads     *prometheus.CounterVec
	configLastSuccess prometheus.Gauge
	ready             prometheus.Gauge
	annotationObjects *prometheus.GaugeVec
	annotationErrors  *prometheus.CounterVec
	annotationClashes prometheus.Gauge
	introspections    *prometheus.CounterVec

	// series are the check metrics' children by label values, looked up without the vectors'
	// label hashing, validation and locks on every check. Copied on write: the label sets are
	// bounded (transports, reasons, route labels), so writes stop once each has been seen.
	series   atomic.Pointer[map[checkLabels]checkSeries]
	seriesMu sync.Mutex
}

type checkLabels struct{ transport, decision, reason, route string }

type checkSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// maxCheckSeries bounds the series cache; past it, children are looked up in the vectors.
const maxCheckSeries = 4096

// New creates the collectors and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "betterauthz_checks_total",
			Help: "Authorization checks answered, by transport (grpc, http), decision (allow, deny), reason code and the route that decided.",
		}, []string{"transport", "decision", "reason", "route"}),
		dryRunDenials: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "betterauthz_dry_run_denials_total",
			Help: "Requests allowed only because the rule that decided (or the config) is a dry run, by the reason code they would have been denied for and that rule.",
		}, []string{"reason", "route"}),
		checkDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "betterauthz_check_duration_seconds",
			Help:    "Time to answer an authorization check, by transport and decision.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}, []string{"transport", "decision"}),
		jwksFetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "betterauthz_jwks_refreshes_total",
			Help: "JWKS fetches, by issuer (its name in the config; default for the one-issuer keys), trigger (initial, interval, retry, unknown_kid, not_ready) and result (success, error).",
		}, []string{"issuer", "trigger", "result"}),
		jwksFetchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "betterauthz_jwks_refresh_duration_seconds",
			Help:    "Time taken by JWKS fetches, by issuer.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12),
		}, []string{"issuer"}),
		jwksKeys: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "betterauthz_jwks_keys",
			Help: "Usable signing keys currently loaded, by issuer.",
		}, []string{"issuer"}),
		jwksLastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "betterauthz_jwks_last_success_timestamp_seconds",
			Help: "Unix time of the last successful JWKS fetch, by issuer (0 if none yet).",
		}, []string{"issuer"}),
		jwksStale: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "betterauthz_jwks_stale",
			Help: "1 while an issuer's signing keys are past maxKeyAge (no successful JWKS refresh for that long): its tokens are refused with 503 keys_stale.",
		}, []string{"issuer"}),
		jwksFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "betterauthz_jwks_refresh_failures_total",
			Help: "Failed JWKS fetches, by issuer and kind: status (not 200), redirect (not followed), too_large, invalid (not a usable key set), unreachable (connection, DNS, TLS, timeout), ca_file.",
		}, []string{"issuer", "failure"}),
		configReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "betterauthz_config_reloads_total",
			Help: "Config loads, by source (file, configmap) and result (success, error). A failed load keeps the last good config.",
		}, []string{"source", "result"}),
		configLastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "betterauthz_config_last_reload_success_timestamp_seconds",
			Help: "Unix time the config in force was applied.",
		}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "betterauthz_ready",
			Help: "1 when the server is ready to answer checks (config valid, keys loaded, caches synced, not draining).",
		}),
		annotationObjects: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "betterauthz_annotation_objects",
			Help: "Kubernetes objects with betterauthz.io/ annotations, by state: valid (in force) or invalid (ignored, their requests fall back to the config).",
		}, []string{"state"}),
		annotationErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "betterauthz_annotation_errors_total",
			Help: "Malformed betterauthz.io/ annotations found, by object kind (each new error counted once).",
		}, []string{"kind"}),
		annotationClashes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "betterauthz_annotation_conflicts",
			Help: "Host and path pairs claimed by more than one annotated object (resolved deterministically, see /debug/routes).",
		}),
		introspections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "betterauthz_introspections_total",
			Help: "Calls to Better Auth's /oauth2/introspect about opaque access tokens (cache hits and coalesced waits are not calls), by outcome: active, inactive, unreachable, status, rate_limited, client_rejected, invalid_answer.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.checks, m.dryRunDenials, m.checkDuration, m.jwksFetches, m.jwksFetchDuration, m.jwksKeys,
		m.jwksLastSuccess, m.jwksStale, m.jwksFailures, m.configReloads, m.configLastSuccess, m.ready,
		m.annotationObjects, m.annotationErrors, m.annotationClashes, m.introspections)
	return m
}

// Check counts one answered check.
func (m *Metrics) Check(transport string, allowed bool, reason, route string, elapsed time.Duration) {
	decision := "deny"
	if allowed {
		decision = "allow"
	}
	s := m.checkSeries(checkLabels{transport, decision, reason, route})
	s.count.Inc()
	s.duration.Observe(elapsed.Seconds())
}

func (m *Metrics) checkSeries(l checkLabels) checkSeries {
	if cur := m.series.Load(); cur != nil {
		if s, ok := (*cur)[l]; ok {
			return s
		}
	}
	s := checkSeries{
		count:    m.checks.WithLabelValues(l.transport, l.decision, l.reason, l.route),
		duration: m.checkDuration.WithLabelValues(l.transport, l.decision),
	}
	m.seriesMu.Lock()
	defer m.seriesMu.Unlock()
	cur := m.series.Load()
	if cur != nil && len(*cur) >= maxCheckSeries {
		return s
	}
	next := map[checkLabels]checkSeries{}
	if cur != nil {
		next = maps.Clone(*cur)
	}
	next[l] = s
	m.series.Store(&next)
	return s
}

// DryRunDenial counts a request a dry run let through, by the reason it would have been denied
// for and the rule that decided.
func (m *Metrics) DryRunDenial(reason, route string) {
	m.dryRunDenials.WithLabelValues(reason, route).Inc()
}

// JWKSFetched counts a JWKS fetch of issuer f.Name's key set, whether it is in force or not
// yet (a pending config's).
func (m *Metrics) JWKSFetched(f jwks.Fetch) {
	result := "success"
	if f.Err != nil {
		result = "error"
		m.jwksFailures.WithLabelValues(f.Name, jwks.FetchFailure(f.Err)).Inc()
	}
	m.jwksFetches.WithLabelValues(f.Name, f.Trigger, result).Inc()
	m.jwksFetchDuration.WithLabelValues(f.Name).Observe(f.Duration.Seconds())
}

// KeySet sets the gauges of the key set in force for an issuer: its usable keys, its last
// successful fetch (zero: none yet, exported as 0) and whether it is stale.
func (m *Metrics) KeySet(name string, keys int, lastSuccess time.Time, stale bool) {
	last := 0.0
	if !lastSuccess.IsZero() {
		last = float64(lastSuccess.UnixNano()) / 1e9
	}
	m.jwksLastSuccess.WithLabelValues(name).Set(last)
	m.jwksKeys.WithLabelValues(name).Set(float64(keys))
	s := 0.0
	if stale {
		s = 1
	}
	m.jwksStale.WithLabelValues(name).Set(s)
}

// IssuerRemoved drops the gauges of an issuer a reload removed (its counters stay: they only
// go up).
func (m *Metrics) IssuerRemoved(name string) {
	for _, g := range []*prometheus.GaugeVec{m.jwksKeys, m.jwksLastSuccess, m.jwksStale} {
		g.DeleteLabelValues(name)
	}
}

// ConfigLoaded counts one config load.
func (m *Metrics) ConfigLoaded(source string, err error, at time.Time) {
	if err != nil {
		m.configReloads.WithLabelValues(source, "error").Inc()
		return
	}
	m.configReloads.WithLabelValues(source, "success").Inc()
	m.configLastSuccess.Set(float64(at.UnixNano()) / 1e9)
}

// ConfigDeleted counts the deletion of a config source (the last good config stays).
func (m *Metrics) ConfigDeleted(source string) {
	m.configReloads.WithLabelValues(source, "deleted").Inc()
}

// AnnotationIndex records the size of a freshly built annotation index.
func (m *Metrics) AnnotationIndex(objects, invalid, conflicts int) {
	m.annotationObjects.WithLabelValues("valid").Set(float64(objects))
	m.annotationObjects.WithLabelValues("invalid").Set(float64(invalid))
	m.annotationClashes.Set(float64(conflicts))
}

// AnnotationInvalid counts a newly found malformed annotation.
func (m *Metrics) AnnotationInvalid(kind string) {
	m.annotationErrors.WithLabelValues(kind).Inc()
}

// Introspected counts one call to Better Auth's introspection endpoint, by its outcome
// (introspect.Outcome*).
func (m *Metrics) Introspected(outcome string) {
	m.introspections.WithLabelValues(outcome).Inc()
}

// Ready records readiness.
func (m *Metrics) Ready(ready bool) {
	if ready {
		m.ready.Set(1)
	} else {
		m.ready.Set(0)
	}
}
