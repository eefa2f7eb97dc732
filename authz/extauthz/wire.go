package extauthz

import (
	"errors"
	"strings"
	"sync"
	"unicode/utf8"
	"unsafe"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/betterauthz/betterauthz/authz"
)

// The lean decoder reads a CheckRequest's wire bytes without building the message: a decision
// reads a dozen of the hundreds of fields Envoy may send (peer certificates, metadata, every
// header), and unmarshalling all of them costs more than the decision itself.
//
// It walks the whole message nonetheless, and accepts exactly what protobuf-go's Unmarshal
// accepts (proto.Unmarshal, as gRPC's codec calls it): every string field of every nested
// message is checked for UTF-8, the recursion limit is protobuf-go's, known fields sent with
// another wire type are skipped as unknown, unknown fields are skipped with protowire — the
// function protobuf-go uses. What it reads of the fields betterauthz uses is what the decoded
// message would hold: a message field sent twice is merged, so the fields read are assigned
// in order, last wins; map entries keep the last value of a key. FuzzLeanDecode proves both
// against protobuf-go, on arbitrary bytes. Whatever the lean decoder refuses is decoded again
// by protobuf-go (see Server.checkWire), so a refusal here never changes an answer:
// protobuf-go's error is the one reported. It refuses, for protobuf-go to decode, requests with
// more than leanMaxEntries headers: its memory is bounded by that, and its time by the input's
// size, which it reads once, as protobuf-go does.
//
// The schema is read from the generated descriptors (on the first check), so an upgrade
// of go-control-plane that adds fields is followed without code; the fields read are named in
// leanRoot.

// errLean is any input the lean decoder refuses; protobuf-go then says why.
var errLean = errors.New("lean decoder: not a CheckRequest")

// errLeanEntries: a request with more than leanMaxEntries headers, which protobuf-go decodes.
var errLeanEntries = errors.New("lean decoder: too many headers")

// leanRecursionLimit is protobuf-go's default recursion limit (protowire.DefaultRecursionLimit),
// counted as protobuf-go counts it: one level per message and one per map entry.
const leanRecursionLimit = protowire.DefaultRecursionLimit

// role says what the lean decoder does with a field it reads, beyond validating it.
type role uint8

const (
	roleNone role = iota
	roleHTTP      // AttributeContext.Request.http: its presence
	roleID
	roleMethod
	roleScheme
	roleHost
	rolePath
	rolePrincipal  // AttributeContext.destination.principal
	roleHeaders    // HttpRequest.headers, a map<string,string>
	roleExtensions // AttributeContext.context_extensions, a map<string,string>
	roleHeaderItem // HeaderMap.headers: one HeaderValue each
	roleEntryKey   // the key of a map entry read
	roleEntryValue // the value of a map entry read
	roleHVKey      // HeaderValue.key
	roleHVValue    // HeaderValue.value
	roleHVRaw      // HeaderValue.raw_value
)

// wireTable is one message type as the lean decoder walks it.
type wireTable struct {
	md    protoreflect.MessageDescriptor
	dense []*wireField // by field number, for the small numbers every message uses
	more  map[protowire.Number]*wireField
}

func (t *wireTable) field(n protowire.Number) *wireField {
	if int(n) < len(t.dense) {
		return t.dense[n]
	}
	return t.more[n]
}

type wireField struct {
	kind protoreflect.Kind
	list bool // repeated, not a map: scalars may come packed
	utf8 bool // a string protobuf-go checks
	msg  *wireTable
	// entry is the map entry's table (key = 1, value = 2) for a map field.
	entry *wireTable
	role  role
}

// denseFields: fields numbered below it are found by index.
const denseFields = 64

// wireType is the wire type a field of kind k is encoded with, unpacked.
func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.BoolKind, protoreflect.EnumKind, protoreflect.Int32Kind, protoreflect.Sint32Kind,
		protoreflect.Uint32Kind, protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Uint64Kind:
		return protowire.VarintType
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.GroupKind:
		return protowire.StartGroupType
	default: // string, bytes, message
		return protowire.BytesType
	}
}

// buildTable makes the tables of md and every message type it reaches, once each.
func buildTable(md protoreflect.MessageDescriptor, seen map[protoreflect.FullName]*wireTable) *wireTable {
	if t := seen[md.FullName()]; t != nil {
		return t
	}
	t := &wireTable{md: md, more: map[protowire.Number]*wireField{}}
	seen[md.FullName()] = t
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		f := &wireField{kind: fd.Kind(), list: fd.IsList(), utf8: enforcesUTF8(fd)}
		switch {
		case fd.IsMap():
			f.entry = buildTable(fd.Message(), seen)
		case fd.Kind() == protoreflect.MessageKind || fd.Kind() == protoreflect.GroupKind:
			f.msg = buildTable(fd.Message(), seen)
		}
		if n := fd.Number(); n < denseFields {
			for int(n) >= len(t.dense) {
				t.dense = append(t.dense, nil)
			}
			t.dense[n] = f
		} else {
			t.more[n] = f
		}
	}
	return t
}

// enforcesUTF8 is protobuf-go's rule (internal/strs.EnforceUTF8): proto3 strings are checked,
// and editions' utf8_validation, which no message a CheckRequest holds uses (TestLeanSchema).
func enforcesUTF8(fd protoreflect.FieldDescriptor) bool {
	return fd.Kind() == protoreflect.StringKind && fd.ParentFile().Syntax() == protoreflect.Proto3
}

// clone copies t so that roles can be set on the fields of one path without setting them on
// every use of the message type (a Peer is both source and destination).
func (t *wireTable) clone() *wireTable {
	c := &wireTable{md: t.md, dense: make([]*wireField, len(t.dense)), more: t.more}
	for i, f := range t.dense {
		if f != nil {
			cf := *f
			c.dense[i] = &cf
		}
	}
	return c
}

// named is t's field called name; the names come from the generated descriptors, so a typo
// fails every test (and, recovered, every check).
func (t *wireTable) named(name protoreflect.Name) *wireField {
	fd := t.md.Fields().ByName(name)
	if fd == nil || fd.Number() >= denseFields {
		panic("extauthz: no field " + string(name) + " in " + string(t.md.FullName()))
	}
	return t.dense[fd.Number()]
}

// at gives field name of t a copy of its message's table (or map entry's), and returns it.
func (t *wireTable) at(name protoreflect.Name) *wireTable {
	f := t.named(name)
	if f.entry != nil {
		f.entry = f.entry.clone()
		return f.entry
	}
	f.msg = f.msg.clone()
	return f.msg
}

// leanRoot is the CheckRequest's table with the fields betterauthz reads marked, built on the
// first check: reading the descriptors unpacks them, memory an idle sidecar need not hold.
var leanRoot = sync.OnceValue(func() *wireTable {
	root := buildTable((*authv3.CheckRequest)(nil).ProtoReflect().Descriptor(), map[protoreflect.FullName]*wireTable{}).clone()
	attributes := root.at("attributes")
	attributes.at("destination").named("principal").role = rolePrincipal
	attributes.named("context_extensions").role = roleExtensions
	mapEntry(attributes.at("context_extensions"))
	request := attributes.at("request")
	request.named("http").role = roleHTTP
	http := request.at("http")
	for name, r := range map[protoreflect.Name]role{"id": roleID, "method": roleMethod, "path": rolePath, "host": roleHost, "scheme": roleScheme} {
		http.named(name).role = r
	}
	http.named("headers").role = roleHeaders
	mapEntry(http.at("headers"))
	headerMap := http.at("header_map")
	headerMap.named("headers").role = roleHeaderItem
	item := headerMap.at("headers")
	item.named("key").role, item.named("value").role, item.named("raw_value").role = roleHVKey, roleHVValue, roleHVRaw
	return root
})

// mapEntry marks a map<string,string> entry's key and value as read.
func mapEntry(t *wireTable) {
	t.named("key").role, t.named("value").role = roleEntryKey, roleEntryValue
}

// kv is a header as a decision reads it: an entry of the headers map, or of header_map with
// its raw_value, when set, for its value; or an entry of context_extensions.
type kv struct{ key, value string }

// headerValue is a map entry or a header_map entry (core.v3.HeaderValue) being read.
type headerValue struct{ key, value, raw string }

// leanHeadersInline is how many headers a leanRequest holds without allocating: Envoy sends a
// request's headers, a browser's a dozen or two.
const leanHeadersInline = 24

// leanRequest is what the lean decoder reads of a CheckRequest. Its strings point into wire,
// which is the request's own copy and is never written again.
type leanRequest struct {
	wire                                      []byte
	http                                      bool
	id, method, scheme, host, path, principal string
	headers                                   []kv // the headers map's entries, in wire order: the last of a key wins
	headerMap                                 []kv
	extensions                                []kv        // context_extensions' entries, in wire order
	entry                                     headerValue // the entry being read

	// inline is the first of headers and headerMap to have entries (Envoy sends one of them).
	inline     [leanHeadersInline]kv
	inlineUsed bool
	entries    int // in the lists
}

// leanMaxEntries bounds the entries the lean decoder keeps, headers and context extensions
// together: Envoy sends at most max_headers_count headers (100 by default). A request with more
// is left to protobuf-go, whose map keeps one entry per key where a list keeps every entry
// sent (a 4 MiB request of empty entries would be 2 million of them).
const leanMaxEntries = 1024

// add appends an entry to one of r's lists, in r's own memory for the first list.
func (r *leanRequest) add(list *[]kv, e kv) error {
	if r.entries++; r.entries > leanMaxEntries {
		return errLeanEntries
	}
	if *list == nil && !r.inlineUsed && list != &r.extensions {
		r.inlineUsed = true
		*list = r.inline[:0]
	}
	*list = append(*list, e)
	return nil
}

// decode reads wire (which r keeps) into r.
func (r *leanRequest) decode(wire []byte) error {
	*r = leanRequest{wire: wire}
	return r.message(wire, leanRoot(), leanRecursionLimit)
}

// message walks one message, as protobuf-go's unmarshalPointer does.
func (r *leanRequest) message(b []byte, t *wireTable, depth int) error {
	if depth--; depth < 0 {
		return errLean
	}
	return r.fields(b, t, depth)
}

// fields walks the fields of a message, or of a map entry, which protobuf-go reads with a loop
// of its own that ends up alike: ConsumeTag refuses the same field numbers, and an end-group
// tag fails there too (ConsumeFieldValue).
func (r *leanRequest) fields(b []byte, t *wireTable, depth int) error {
	for len(b) > 0 {
		tag, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return errLean
		}
		b = b[n:]
		if tag>>3 < uint64(protowire.MinValidNumber) || tag>>3 > uint64(protowire.MaxValidNumber) {
			return errLean
		}
		num, typ := protowire.Number(tag>>3), protowire.Type(tag&7)
		if typ == protowire.EndGroupType {
			return errLean // no group is open: protobuf-go's unmarshalPointer with groupTag 0
		}
		f := t.field(num)
		n = -1
		if f != nil {
			var err error
			if n, err = r.field(b, f, typ, depth); err != nil {
				return err
			}
		}
		if n < 0 { // unknown, or known with another wire type: skipped, as protobuf-go does
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return errLean
			}
		}
		b = b[n:]
	}
	return nil
}

// field reads one field's value from b, sent with wire type typ, and returns its length, or -1
// when protobuf-go would treat it as unknown (another wire type).
func (r *leanRequest) field(b []byte, f *wireField, typ protowire.Type, depth int) (int, error) {
	if f.entry != nil {
		// protobuf-go's consumeMap counts the entry's depth before it looks at the wire type.
		if depth-1 < 0 {
			return 0, errLean
		}
		if typ != protowire.BytesType {
			return -1, nil
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, errLean
		}
		r.entry = headerValue{}
		if err := r.fields(v, f.entry, depth-1); err != nil {
			return 0, err
		}
		switch f.role {
		case roleHeaders:
			return n, r.add(&r.headers, kv{r.entry.key, r.entry.value})
		case roleExtensions:
			return n, r.add(&r.extensions, kv{r.entry.key, r.entry.value})
		}
		return n, nil
	}
	want := wireType(f.kind)
	if typ != want {
		if f.list && typ == protowire.BytesType && want != protowire.BytesType && want != protowire.StartGroupType {
			return packed(b, want)
		}
		return -1, nil
	}
	switch typ {
	case protowire.VarintType:
		_, n := protowire.ConsumeVarint(b)
		return leanN(n)
	case protowire.Fixed32Type:
		_, n := protowire.ConsumeFixed32(b)
		return leanN(n)
	case protowire.Fixed64Type:
		_, n := protowire.ConsumeFixed64(b)
		return leanN(n)
	case protowire.StartGroupType:
		return 0, errLean // no proto3 message has groups (TestLeanSchema)
	}
	v, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return 0, errLean
	}
	if f.msg != nil {
		switch f.role {
		case roleHTTP:
			r.http = true
		case roleHeaderItem:
			// A HeaderValue holds no message: nothing else is read into r.entry meanwhile.
			r.entry = headerValue{}
			if err := r.message(v, f.msg, depth); err != nil {
				return 0, err
			}
			value := r.entry.value
			if len(r.entry.raw) > 0 { // as headers.Header reads a HeaderValue
				value = r.entry.raw
			}
			return n, r.add(&r.headerMap, kv{r.entry.key, value})
		}
		return n, r.message(v, f.msg, depth)
	}
	if f.utf8 && !utf8.Valid(v) {
		return 0, errLean
	}
	if f.role != roleNone {
		r.set(f.role, v)
	}
	return n, nil
}

// set stores a string field read.
func (r *leanRequest) set(ro role, v []byte) {
	s := unsafe.String(unsafe.SliceData(v), len(v)) // v is in r.wire, which nothing writes
	switch ro {
	case roleID:
		r.id = s
	case roleMethod:
		r.method = s
	case roleScheme:
		r.scheme = s
	case roleHost:
		r.host = s
	case rolePath:
		r.path = s
	case rolePrincipal:
		r.principal = s
	case roleEntryKey, roleHVKey:
		r.entry.key = s
	case roleEntryValue, roleHVValue:
		r.entry.value = s
	case roleHVRaw:
		r.entry.raw = s
	}
}

func leanN(n int) (int, error) {
	if n < 0 {
		return 0, errLean
	}
	return n, nil
}

// packed reads a packed repeated scalar: whole elements of wire type typ, as protobuf-go's
// consume*Slice do.
func packed(b []byte, typ protowire.Type) (int, error) {
	v, n := protowire.ConsumeBytes(b)
	if n < 0 {
		return 0, errLean
	}
	for len(v) > 0 {
		var m int
		switch typ {
		case protowire.VarintType:
			_, m = protowire.ConsumeVarint(v)
		case protowire.Fixed32Type:
			_, m = protowire.ConsumeFixed32(v)
		default:
			_, m = protowire.ConsumeFixed64(v)
		}
		if m < 0 {
			return 0, errLean
		}
		v = v[m:]
	}
	return n, nil
}

// request fills an authz.Request from r, as extract does from a decoded CheckRequest.
func (r *leanRequest) request(out *authz.Request) error {
	if !r.http {
		return errNoHTTP
	}
	*out = authz.Request{
		Transport:            Transport,
		ID:                   r.id,
		Method:               r.method,
		Scheme:               r.scheme,
		Host:                 r.host,
		Path:                 r.path,
		Headers:              leanHeaders{r},
		DestinationNamespace: spiffeNamespace(r.principal),
	}
	if len(r.extensions) > 0 {
		out.ContextExtensions = make(map[string]string, len(r.extensions))
		for _, e := range r.extensions {
			out.ContextExtensions[e.key] = e.value
		}
	}
	if out.ID == "" {
		out.ID, _ = out.Header("x-request-id")
	}
	return nil
}

// leanHeaders reads a leanRequest's headers as headers reads a decoded CheckRequest's: the
// header_map when it has entries, else the headers map.
type leanHeaders struct{ r *leanRequest }

func (hs leanHeaders) Header(name string) (value string, n int) {
	if list := hs.r.headerMap; len(list) > 0 {
		for _, hv := range list {
			if strings.EqualFold(hv.key, name) {
				if n == 0 {
					value = hv.value
				}
				n++
			}
		}
		return value, n
	}
	return hs.mapped(name)
}

// mapped is the headers map's value for name: its last entry.
func (hs leanHeaders) mapped(name string) (string, int) {
	for i := len(hs.r.headers) - 1; i >= 0; i-- {
		if hs.r.headers[i].key == name {
			return hs.r.headers[i].value, 1
		}
	}
	return "", 0
}

// Values implements authz.ValuesHeaders.
func (hs leanHeaders) Values(name string) []string {
	list := hs.r.headerMap
	if len(list) == 0 {
		if v, n := hs.mapped(name); n > 0 {
			return []string{v}
		}
		return nil
	}
	var out []string
	for _, hv := range list {
		if strings.EqualFold(hv.key, name) {
			out = append(out, hv.value)
		}
	}
	return out
}
