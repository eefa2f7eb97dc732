package tracing

import (
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want Settings
		err  string
	}{
		{env: nil, want: Settings{}},
		{env: map[string]string{"OTEL_SERVICE_NAME": "x"}, want: Settings{}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"},
			want: Settings{Endpoint: "http://collector:4318/v1/traces", Protocol: "http/protobuf"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318/base/"},
			want: Settings{Endpoint: "https://collector:4318/base/v1/traces", Protocol: "http/protobuf"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/custom", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://other:1"},
			want: Settings{Endpoint: "http://collector:4318/custom", Protocol: "http/protobuf"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			want: Settings{Endpoint: "http://collector:4317", Protocol: "grpc"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"},
			want: Settings{Endpoint: "http://c:4317", Protocol: "grpc"}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "TRUE"}, want: Settings{}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, want: Settings{}},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "jaeger"}, err: `OTEL_TRACES_EXPORTER="jaeger"`},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, err: `OTEL_EXPORTER_OTLP_PROTOCOL="http/json"`},
		{env: map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "c:4318"}, err: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="c:4318": want an http:// or https:// URL`},
	}
	for _, tc := range cases {
		got, err := Read(func(k string) string { return tc.env[k] })
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: err %v, want %s", tc.env, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v: %+v %v, want %+v", tc.env, got, err, tc.want)
		}
	}
}
