package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
)

// The generated files, relative to the repository root.
const (
	DocsFile   = "docs/config.schema.json"
	ValuesFile = "charts/betterauthz/values.schema.json"
)

// chartOwnKeys are the config keys the chart takes from values of their own (betterAuthURL,
// annotationPolicies), not from its `config` value: the chart's templates refuse them there.
var chartOwnKeys = []string{"betterAuthURL", "annotations"}

// Files returns the content both generated files should have, given the repository at root:
// docs/config.schema.json whole, and the chart's values.schema.json with its `config`
// property replaced (the rest of that file is written by hand).
func Files(root string) (map[string][]byte, error) {
	cfg, err := Config(NewDocs(root))
	if err != nil {
		return nil, err
	}
	docs, err := Indent(cfg, "")
	if err != nil {
		return nil, err
	}
	values, err := os.ReadFile(filepath.Join(root, ValuesFile))
	if err != nil {
		return nil, err
	}
	values, err = spliceConfig(values, chartConfig(cfg))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ValuesFile, err)
	}
	return map[string][]byte{DocsFile: append(docs, '\n'), ValuesFile: values}, nil
}

// chartConfig is the schema of the chart's `config` value: the config file's, without the keys
// that have values of their own.
func chartConfig(cfg *Object) *Object {
	props, _ := cfg.Get("properties")
	var kept Object
	for _, kv := range *props.(*Object) {
		if !slices.Contains(chartOwnKeys, kv.Key) {
			kept = append(kept, KV{kv.Key, withoutDurationForm(kv.Value)})
		}
	}
	return Obj(
		"description", "betterauthz config merged into config.yaml: the config file's schema (docs/config.schema.json, generated from the Go types by `make schema`) without betterAuthURL and annotations, which are the values betterAuthURL and annotationPolicies.",
		"type", "object",
		"additionalProperties", false,
		"properties", &kept,
	)
}

// withoutDurationForm is a copy of a schema whose durations keep their type but not their form
// (DurationPattern, and the bounds that let a bare 0 through): on a mismatch Helm prints the
// pattern, so the chart's templates check the form instead, in betterauthz's words
// (charts/betterauthz/templates/_validate.tpl).
func withoutDurationForm(v any) any {
	switch v := v.(type) {
	case *Object:
		c := &Object{}
		for _, kv := range *v {
			*c = append(*c, KV{kv.Key, withoutDurationForm(kv.Value)})
		}
		if p, _ := c.Get("pattern"); p == DurationPattern {
			c.Delete("pattern")
			c.Delete("minimum")
			c.Delete("maximum")
		}
		return c
	case []any:
		c := make([]any, len(v))
		for i, x := range v {
			c[i] = withoutDurationForm(x)
		}
		return c
	default:
		return v
	}
}

// configProperty finds the `config` member of the top-level properties: values.schema.json is
// kept in the layout Indent writes (two spaces a level), so it is the one at four.
var configProperty = regexp.MustCompile(`(?m)^    "config": `)

// spliceConfig replaces the value of properties.config in a values.schema.json, leaving every
// other byte as it is.
func spliceConfig(values []byte, cfg *Object) ([]byte, error) {
	locs := configProperty.FindAllIndex(values, -1)
	if len(locs) != 1 {
		return nil, fmt.Errorf("want exactly one top-level \"config\" property, found %d", len(locs))
	}
	start := locs[0][1]
	dec := json.NewDecoder(bytes.NewReader(values[start:]))
	var old json.RawMessage
	if err := dec.Decode(&old); err != nil {
		return nil, fmt.Errorf("the config property: %w", err)
	}
	end := start + int(dec.InputOffset())
	repl, err := Indent(cfg, "    ")
	if err != nil {
		return nil, err
	}
	out := slices.Concat(values[:start], repl, values[end:])
	if !json.Valid(out) {
		return nil, fmt.Errorf("not valid JSON after replacing the config property")
	}
	return out, nil
}
