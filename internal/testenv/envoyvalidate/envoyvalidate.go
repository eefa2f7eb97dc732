// Package envoyvalidate checks Envoy configuration written as YAML against Envoy's own protos:
// protojson decoding (unknown fields are errors) and the generated ValidateAll, applied to the
// message and to every google.protobuf.Any inside it (ValidateAll alone stops at an Any).
package envoyvalidate

import (
	"fmt"
	"os"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"
)

// File decodes and validates a YAML file into msg.
func File(t testing.TB, path string, msg proto.Message) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	YAML(t, path, data, msg)
}

// YAML decodes and validates YAML (or JSON) into msg; name labels errors.
func YAML(t testing.TB, name string, data []byte, msg proto.Message) {
	t.Helper()
	if err := Check(data, msg); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// Check decodes and validates YAML (or JSON) into msg.
func Check(data []byte, msg proto.Message) error {
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return fmt.Errorf("YAML: %w", err)
	}
	if err := protojson.Unmarshal(js, msg); err != nil {
		return fmt.Errorf("as %s: %w", msg.ProtoReflect().Descriptor().FullName(), err)
	}
	return Validate(msg)
}

// Validate runs ValidateAll on msg and on everything packed in its Any fields, recursively.
func Validate(msg proto.Message) error {
	if a, ok := msg.(*anypb.Any); ok {
		inner, err := a.UnmarshalNew()
		if err != nil {
			return fmt.Errorf("%s: %w", a.GetTypeUrl(), err)
		}
		return Validate(inner)
	}
	if v, ok := msg.(interface{ ValidateAll() error }); ok {
		if err := v.ValidateAll(); err != nil {
			return fmt.Errorf("%s: %w", msg.ProtoReflect().Descriptor().FullName(), err)
		}
	}
	var err error
	walkAny(msg.ProtoReflect(), func(a *anypb.Any) bool {
		err = Validate(a)
		return err == nil
	})
	return err
}

// CountAny counts the Any values of a type URL inside msg.
func CountAny(msg proto.Message, typeURL string) int {
	n := 0
	walkAny(msg.ProtoReflect(), func(a *anypb.Any) bool {
		if a.GetTypeUrl() == typeURL {
			n++
		}
		inner, err := a.UnmarshalNew()
		if err == nil {
			n += CountAny(inner, typeURL)
		}
		return true
	})
	return n
}

// walkAny calls f for every Any directly or indirectly inside m (not inside the Anys).
func walkAny(m protoreflect.Message, f func(*anypb.Any) bool) bool {
	cont := true
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		visit := func(x protoreflect.Message) bool {
			if a, ok := x.Interface().(*anypb.Any); ok {
				return f(a)
			}
			return walkAny(x, f)
		}
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len() && cont; i++ {
				cont = visit(l.Get(i).Message())
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				cont = visit(mv.Message())
				return cont
			})
		case fd.Message() != nil && !fd.IsList() && !fd.IsMap():
			cont = visit(v.Message())
		}
		return cont
	})
	return cont
}
