package authz

import "testing"

func TestQuoteEscapes(t *testing.T) {
	if got := quote(`a "b" \c`); got != `"a \"b\" \\c"` {
		t.Fatal(got)
	}
}
