package schema

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCommittedFilesAreCurrent: docs/config.schema.json and the chart's values.schema.json are
// what the generator writes from the Go types now. A field added to the config types fails
// this until `make schema` is run and its output committed.
func TestCommittedFilesAreCurrent(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	files, err := Files(root)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run `make schema` and commit it", name)
		}
	}
}

func TestDurationPatternIsParseDuration(t *testing.T) {
	re := regexp.MustCompile(DurationPattern)
	for _, s := range []string{
		"0", "30s", "5m", "1h30m", "1.5h", ".5s", "5.s", "-5s", "+5s", "10ms", "1us", "1µs", "1μs", "2ns", "1h0m0s",
		"", "30", "30 seconds", "5 m", "1d", "s", "1.5.5s", "--5s", "0x10s", "1e3s", "5M", "h1", "00", "-",
	} {
		_, err := time.ParseDuration(s)
		if got, want := re.MatchString(s), err == nil; got != want {
			t.Errorf("%q: pattern matches %v, time.ParseDuration accepts %v", s, got, want)
		}
	}
}

// TestTypesTheDecoderCannotReadAreAnError: a config field of a type the generator does not
// know stops generation, naming the key, rather than being let through unchecked.
func TestTypesTheDecoderCannotReadAreAnError(t *testing.T) {
	type sessions struct {
		Ratio float64 `yaml:"ratio"`
	}
	type file struct {
		Sessions sessions `yaml:"sessions"`
	}
	g := &generator{enums: enums()}
	_, err := g.schema(reflect.TypeFor[file](), "", "")
	if err == nil || !strings.Contains(err.Error(), "sessions.ratio: no JSON Schema for Go type float64") {
		t.Fatalf("err = %v", err)
	}
}

// TestEnumsComeFromTheCode: every policy name and algorithm the code knows is in the schema.
func TestEnumsComeFromTheCode(t *testing.T) {
	e := enums()
	if got := e["policy"]; len(got) != 3 || got[0] != "authenticated" || got[2] != "deny" {
		t.Errorf("policies %v", got)
	}
	if got := e["algorithms"]; len(got) != 6 || got[5] != "Ed25519" {
		t.Errorf("algorithms %v", got)
	}
}
