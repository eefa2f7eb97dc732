package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// reloadWait bounds how long a rewritten config file may take to apply: betterauthz reacts to
// the file event within a moment, and polls the file every 5 s should an event be missed.
const reloadWait = 8 * time.Second

// settings are the parts of the config the soak varies. Every variant leaves the traffic's
// decisions alone: the extra routes match paths the load never sends, and a second more or
// less of clock skew changes nothing for tokens minutes from their expiry.
type settings struct {
	betterAuthURL, jwksURL string
	skew                   time.Duration
	routes                 int
}

func (s settings) yaml() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# written by bench/soak\nbetterAuthURL: %s\njwksURL: %s\njwksRefreshInterval: 10s\nclockSkew: %s\n", s.betterAuthURL, s.jwksURL, s.skew)
	if s.routes > 0 {
		b.WriteString("routes:\n")
		for i := range s.routes {
			fmt.Fprintf(&b, "  - name: soak-%d\n    paths: [\"/soak-never-sent/%d/**\"]\n    policy: public\n", i, i)
		}
	}
	return []byte(b.String())
}

// reloader rewrites the config file with a harmless change and checks that betterauthz applied
// it (betterauthz_config_reloads_total{source="file",result="success"} goes up).
type reloader struct {
	path    string
	cfg     settings
	metrics func() (string, error) // the /metrics text
	fail    func(category, detail string)
	log     func(format string, args ...any)

	steps, applied int
}

// write puts the config in place the way an editor or a ConfigMap volume does: a new file
// renamed over the old one.
func (r *reloader) write() error {
	tmp := filepath.Join(filepath.Dir(r.path), ".config.yaml.tmp")
	if err := os.WriteFile(tmp, r.cfg.yaml(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, r.path)
}

// step changes the config (alternately: one more route, or the clock skew) and waits for it to
// apply.
func (r *reloader) step() {
	r.steps++
	if r.steps%2 == 1 {
		r.cfg.routes = (r.cfg.routes + 1) % 12 // back to none now and then: removals are changes too
	} else if r.cfg.skew == 30*time.Second {
		r.cfg.skew = 31 * time.Second
	} else {
		r.cfg.skew = 30 * time.Second
	}
	before, err := r.successes()
	if err != nil {
		r.fail("reload: metrics unreadable", err.Error())
		return
	}
	if err := r.write(); err != nil {
		r.fail("reload: config not written", err.Error())
		return
	}
	deadline := time.Now().Add(reloadWait)
	for time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if n, err := r.successes(); err == nil && n > before {
			r.applied++
			r.log("config reloaded (%d routes, clockSkew %s)", r.cfg.routes, r.cfg.skew)
			return
		}
	}
	r.fail("reload not applied", fmt.Sprintf("config with %d routes and clockSkew %s not applied within %s", r.cfg.routes, r.cfg.skew, reloadWait))
}

func (r *reloader) successes() (float64, error) {
	text, err := r.metrics()
	if err != nil {
		return 0, err
	}
	return metricSum(text, "betterauthz_config_reloads_total", `source="file"`, `result="success"`), nil
}
