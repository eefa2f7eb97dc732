package extauthz

import (
	"unicode/utf8"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/betterauthz/betterauthz/authz"
)

// encodedAnswer is an allowed CheckResponse already encoded: the Check method's lean path
// hands it to gRPC in place of the message, and checkCodec.Marshal sends its bytes as they
// are. They are the bytes protobuf-go's Marshal makes of Render's CheckResponse for the same
// decision (TestEncodedAnswerIsRendersMarshalled and FuzzEncodedAnswer prove it), written
// without building the messages, sizing them by reflection, or allocating, up to its inline
// size.
type encodedAnswer struct {
	b      []byte
	inline [encodedAnswerInline]byte
	// sb and bufs are b as gRPC takes it, without allocating.
	sb   mem.SliceBuffer
	bufs [1]mem.Buffer
}

// encodedAnswerInline holds an answer with Better Auth's identity headers and their removals
// (about 240 bytes with four identity headers); a larger one is allocated apart.
const encodedAnswerInline = 320

// Field numbers of the messages an allowed answer is made of (envoy.service.auth.v3 and
// envoy.config.core.v3; TestEncodedAnswerFieldNumbers checks them against the descriptors).
const (
	checkResponseStatus     = 1 // CheckResponse.status, a google.rpc.Status
	checkResponseOK         = 3 // CheckResponse.ok_response
	statusCode              = 1 // google.rpc.Status.code
	okHeaders               = 2 // OkHttpResponse.headers
	okHeadersToRemove       = 5 // OkHttpResponse.headers_to_remove
	okResponseHeadersToAdd  = 6 // OkHttpResponse.response_headers_to_add
	headerValueOptionHeader = 1 // HeaderValueOption.header
	headerValueOptionAction = 3 // HeaderValueOption.append_action
	headerValueKey          = 1 // HeaderValue.key
	headerValueValue        = 2 // HeaderValue.value
)

// encode writes the answer to the allowed decision d, as answer.allow renders it; nil when a
// string in it is not UTF-8, which protobuf-go refuses to marshal (the answer is then left to
// Render and gRPC's codec, to fail as it always has).
func (e *encodedAnswer) encode(d *authz.Decision) *encodedAnswer {
	if !validUTF8(d) {
		return nil
	}
	code := uint64(int64(int32(d.Code())))
	statusSize := 0
	if code != 0 {
		statusSize = 1 + protowire.SizeVarint(code)
	}
	okSize := 0
	for _, h := range d.Set {
		okSize += sizeField(optionSize(h, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD))
	}
	for _, name := range d.Remove {
		okSize += sizeField(len(name))
	}
	for _, name := range d.Underscored {
		okSize += sizeField(len(name))
	}
	for _, h := range d.ResponseHeaders {
		okSize += sizeField(optionSize(h, corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD))
	}
	b := e.inline[:0]
	if n := sizeField(statusSize) + sizeField(okSize); n > len(e.inline) {
		b = make([]byte, 0, n)
	}
	b = protowire.AppendVarint(protowire.AppendTag(b, checkResponseStatus, protowire.BytesType), uint64(statusSize))
	if code != 0 {
		b = protowire.AppendVarint(protowire.AppendTag(b, statusCode, protowire.VarintType), code)
	}
	b = protowire.AppendVarint(protowire.AppendTag(b, checkResponseOK, protowire.BytesType), uint64(okSize))
	for _, h := range d.Set {
		b = appendOption(b, okHeaders, h, corev3.HeaderValueOption_OVERWRITE_IF_EXISTS_OR_ADD)
	}
	for _, name := range d.Remove {
		b = protowire.AppendString(protowire.AppendTag(b, okHeadersToRemove, protowire.BytesType), name)
	}
	for _, name := range d.Underscored {
		b = protowire.AppendString(protowire.AppendTag(b, okHeadersToRemove, protowire.BytesType), name)
	}
	for _, h := range d.ResponseHeaders {
		b = appendOption(b, okResponseHeadersToAdd, h, corev3.HeaderValueOption_APPEND_IF_EXISTS_OR_ADD)
	}
	e.b = b
	return e
}

func validUTF8(d *authz.Decision) bool {
	for _, h := range d.Set {
		if !utf8.ValidString(h.Name) || !utf8.ValidString(h.Value) {
			return false
		}
	}
	for _, h := range d.ResponseHeaders {
		if !utf8.ValidString(h.Name) || !utf8.ValidString(h.Value) {
			return false
		}
	}
	for _, name := range d.Remove {
		if !utf8.ValidString(name) {
			return false
		}
	}
	for _, name := range d.Underscored {
		if !utf8.ValidString(name) {
			return false
		}
	}
	return true
}

// sizeField is the size of a length-delimited field of a one-byte tag holding n bytes.
func sizeField(n int) int { return 1 + protowire.SizeVarint(uint64(n)) + n }

// sizeString is the size of a proto3 string field of a one-byte tag: nothing when empty.
func sizeString(s string) int {
	if s == "" {
		return 0
	}
	return sizeField(len(s))
}

func headerSize(h authz.Header) int { return sizeString(h.Name) + sizeString(h.Value) }

func optionSize(h authz.Header, action corev3.HeaderValueOption_HeaderAppendAction) int {
	n := sizeField(headerSize(h))
	if action != 0 {
		n += 1 + protowire.SizeVarint(uint64(action))
	}
	return n
}

// appendOption appends field num, a HeaderValueOption setting h with action.
func appendOption(b []byte, num protowire.Number, h authz.Header, action corev3.HeaderValueOption_HeaderAppendAction) []byte {
	b = protowire.AppendVarint(protowire.AppendTag(b, num, protowire.BytesType), uint64(optionSize(h, action)))
	b = protowire.AppendVarint(protowire.AppendTag(b, headerValueOptionHeader, protowire.BytesType), uint64(headerSize(h)))
	if h.Name != "" {
		b = protowire.AppendString(protowire.AppendTag(b, headerValueKey, protowire.BytesType), h.Name)
	}
	if h.Value != "" {
		b = protowire.AppendString(protowire.AppendTag(b, headerValueValue, protowire.BytesType), h.Value)
	}
	if action != 0 {
		b = protowire.AppendVarint(protowire.AppendTag(b, headerValueOptionAction, protowire.VarintType), uint64(action))
	}
	return b
}

// buffers is the answer as gRPC sends it: the bytes as they are, in the check's own memory,
// which gRPC holds until it has written them (mem.SliceBuffer's Free does nothing).
func (e *encodedAnswer) buffers() mem.BufferSlice {
	e.sb = e.b
	e.bufs[0] = &e.sb
	return e.bufs[:]
}
