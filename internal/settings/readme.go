package settings

import (
	"bytes"
	"fmt"
)

// The README's flag table sits between these markers.
const (
	tableBegin = "<!-- flags:begin (generated from internal/server.Options by make schema) -->\n"
	tableEnd   = "<!-- flags:end -->\n"
)

// WithTable returns readme with the text between its table markers replaced by v's Table.
func WithTable(readme []byte, v any) ([]byte, error) {
	i := bytes.Index(readme, []byte(tableBegin))
	j := bytes.Index(readme, []byte(tableEnd))
	if i < 0 || j < i {
		return nil, fmt.Errorf("no flag table markers (%q … %q)", tableBegin, tableEnd)
	}
	var b bytes.Buffer
	b.Write(readme[:i+len(tableBegin)])
	b.WriteString(Table(v))
	b.Write(readme[j:])
	return b.Bytes(), nil
}
