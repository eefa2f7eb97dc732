package kube

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// TestConfigData: config.yaml is read from data, else from binaryData, as the API server sends
// them.
func TestConfigData(t *testing.T) {
	tests := map[string]struct {
		cm     corev1.ConfigMap
		want   string
		wantOK bool
	}{
		"data":                {cm: corev1.ConfigMap{Data: map[string]string{ConfigKey: "defaultPolicy: deny\n"}}, want: "defaultPolicy: deny\n", wantOK: true},
		"empty data value":    {cm: corev1.ConfigMap{Data: map[string]string{ConfigKey: ""}}, want: "", wantOK: true},
		"binaryData":          {cm: corev1.ConfigMap{BinaryData: map[string][]byte{ConfigKey: []byte("defaultPolicy: public\n")}}, want: "defaultPolicy: public\n", wantOK: true},
		"data before binary":  {cm: corev1.ConfigMap{Data: map[string]string{ConfigKey: "a"}, BinaryData: map[string][]byte{ConfigKey: []byte("b")}}, want: "a", wantOK: true},
		"another key only":    {cm: corev1.ConfigMap{Data: map[string]string{"other.yaml": "x"}}},
		"no data at all":      {cm: corev1.ConfigMap{}},
		"binary, another key": {cm: corev1.ConfigMap{BinaryData: map[string][]byte{"config.yml": []byte("x")}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, ok := configData(toUnstructured(t, &tc.cm))
			if ok != tc.wantOK || string(got) != tc.want {
				t.Errorf("got %q, %v; want %q, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
