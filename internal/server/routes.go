package server

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/betterauthz/betterauthz/authz/policy"
	"github.com/betterauthz/betterauthz/internal/config"
)

// routeRow is one line of the effective route table.
type routeRow struct {
	Precedence string   `json:"precedence"` // annotation, config, default
	Source     string   `json:"source"`     // the object or config key the rule came from
	Name       string   `json:"name"`
	Hosts      []string `json:"hosts"`
	Paths      []string `json:"paths"`
	Methods    []string `json:"methods"`
	Policy     string   `json:"policy"`
	Claims     []string `json:"claims,omitempty"`
	Issuer     string   `json:"issuer,omitempty"` // tokens of this issuer only
	DryRun     bool     `json:"dryRun,omitempty"`
}

type routeTable struct {
	Note      string     `json:"note"`
	Tighten   bool       `json:"annotationsTightenOnly"`
	DryRun    bool       `json:"dryRun,omitempty"` // the config's dryRun: every denial only reported
	Routes    []routeRow `json:"routes"`
	Invalid   []string   `json:"invalidObjects,omitempty"`
	Conflicts []string   `json:"conflicts,omitempty"`
}

// routesHandler serves the effective route table: the first thing to look at when a request
// is unexpectedly denied. Text by default, JSON with ?format=json.
func routesHandler(f *inForce, invalid func() []string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cur := f.current()
		s, mesh := cur.settings, cur.objects
		if s == nil {
			http.Error(w, "no config loaded yet", http.StatusServiceUnavailable)
			return
		}
		t := buildRouteTable(s, mesh, invalid())
		if r.URL.Query().Get("format") == "json" {
			w.Header().Set("Content-Type", "application/json")
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			_ = enc.Encode(t)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		writeRouteTable(w, t)
	}
}

func buildRouteTable(s *config.Settings, mesh *policy.ObjectIndex, invalid []string) routeTable {
	t := routeTable{
		Note: "Precedence: an Envoy route's context_extensions (not shown: they travel with each request), " +
			"then the annotations of the object serving the request, then config routes (first match), then the default.",
		Invalid: invalid,
	}
	t.Tighten = !s.Annotations.AllowPublic
	t.DryRun = s.DryRun
	if mesh != nil {
		for _, o := range mesh.Objects {
			var hosts, served []string
			for _, r := range o.Routes {
				hosts = append(hosts, r.Hosts...)
				for _, p := range r.Paths {
					served = append(served, p.String())
				}
			}
			hosts = dedupe(hosts)
			if o.TightenOnly {
				served = []string{"* (paths unreadable: tighten only)"}
			}
			add := func(r *policy.Rule, paths []string) {
				row := ruleRow("annotation", o.Ref(), r)
				row.Hosts = hosts
				if len(row.Paths) == 0 || row.Paths[0] == "*" {
					row.Paths = paths
				}
				t.Routes = append(t.Routes, row)
			}
			for _, r := range o.Rules.Rules {
				add(r, dedupe(served))
			}
			if o.Rules.PublicPaths != nil {
				add(o.Rules.PublicPaths, nil)
			}
			if o.Rules.Default != nil {
				add(o.Rules.Default, dedupe(served))
			}
		}
		for _, c := range mesh.Conflicts {
			t.Conflicts = append(t.Conflicts, c.String())
		}
	}
	for _, r := range s.Routes {
		t.Routes = append(t.Routes, ruleRow("config", "routes", r))
	}
	t.Routes = append(t.Routes, routeRow{Precedence: "default", Source: "defaultPolicy", Name: "default",
		Hosts: []string{"*"}, Paths: []string{"*"}, Methods: []string{"*"}, Policy: s.DefaultPolicy.String()})
	return t
}

func ruleRow(precedence, source string, r *policy.Rule) routeRow {
	row := routeRow{Precedence: precedence, Source: source, Name: r.Name, Policy: r.Action.String(),
		Hosts: r.Spec.Hosts, Paths: r.Spec.Paths, Methods: r.Spec.Methods, Issuer: r.Spec.Issuer, DryRun: r.DryRun()}
	if r.Source != "" && precedence == "annotation" {
		row.Source = r.Source
	}
	for _, k := range slices.Sorted(maps.Keys(r.Spec.Claims)) {
		row.Claims = append(row.Claims, fmt.Sprintf("%s=%v", k, r.Spec.Claims[k]))
	}
	// The conditions on Better Auth's plugins read like claims in the table.
	if len(r.Spec.OrgRoles) > 0 {
		row.Claims = append(row.Claims, fmt.Sprintf("orgRoles=%v", r.Spec.OrgRoles))
	}
	if r.Spec.Impersonated != nil {
		row.Claims = append(row.Claims, fmt.Sprintf("impersonated=%t", *r.Spec.Impersonated))
	}
	if r.Spec.Anonymous != nil {
		row.Claims = append(row.Claims, fmt.Sprintf("anonymous=%t", *r.Spec.Anonymous))
	}
	if len(row.Hosts) == 0 {
		row.Hosts = []string{"*"}
	}
	if len(row.Paths) == 0 {
		row.Paths = []string{"*"}
	}
	if len(row.Methods) == 0 {
		row.Methods = []string{"*"}
	}
	return row
}

func writeRouteTable(w io.Writer, t routeTable) {
	fmt.Fprintln(w, t.Note)
	if t.Tighten {
		fmt.Fprintln(w, "annotations.allowPublic is false: annotation rules add to the config's (tighten only).")
	}
	if t.DryRun {
		fmt.Fprintln(w, "dryRun is true: every denial is only logged and counted, the request allowed.")
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PRECEDENCE\tSOURCE\tNAME\tHOSTS\tPATHS\tMETHODS\tPOLICY\tCLAIMS")
	for _, r := range t.Routes {
		policy := r.Policy
		if r.Issuer != "" {
			policy += " (issuer " + r.Issuer + ")"
		}
		if r.DryRun {
			policy += " (dry run)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Precedence, r.Source, r.Name,
			strings.Join(r.Hosts, ","), strings.Join(r.Paths, ","), strings.Join(r.Methods, ","), policy, strings.Join(r.Claims, " "))
	}
	tw.Flush()
	if len(t.Invalid) > 0 {
		fmt.Fprintln(w, "\nIgnored objects (malformed annotations, or routing no traffic this betterauthz decides; their requests fall back to the config):")
		for _, s := range t.Invalid {
			fmt.Fprintln(w, "  "+s)
		}
	}
	if len(t.Conflicts) > 0 {
		fmt.Fprintln(w, "\nConflicts:")
		for _, s := range t.Conflicts {
			fmt.Fprintln(w, "  "+s)
		}
	}
}

func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
