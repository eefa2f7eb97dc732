package charts_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// betterauthzBin builds the binary the image holds (the test Pod runs the image's own).
func betterauthzBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "betterauthz-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "betterauthz")
		if out, err := exec.Command("go", "build", "-o", binPath, "../cmd/betterauthz").CombinedOutput(); err != nil {
			binErr = err
			t.Logf("%s", out)
		}
	})
	if binErr != nil {
		t.Fatalf("build betterauthz: %v", binErr)
	}
	return binPath
}

// testPod is the rendered helm test Pod, which must be a test hook that is not one of the
// release's pods.
func testPod(t *testing.T, objs []*unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	for _, o := range find(objs, "Pod") {
		if o.GetAnnotations()["helm.sh/hook"] == "test" {
			sel := o.GetLabels()
			if sel["app.kubernetes.io/name"] == "betterauthz" {
				t.Errorf("the test Pod carries the selector labels %v: the Service and the PDB would count it", sel)
			}
			return o
		}
	}
	t.Fatal("no helm test Pod rendered")
	return nil
}

// TestHelmTestValidatesTheConfig: the chart's `helm test` Pod runs the image's `betterauthz
// validate` on the watched ConfigMap's config.yaml. Here its command runs with the real binary
// on the rendered config: exit 0 for a good one, 1 naming the key for one that passes the
// schema but not betterauthz (jwksRefreshInterval below its 10s minimum).
func TestHelmTestValidatesTheConfig(t *testing.T) {
	cases := map[string]struct {
		set  []string
		code int
		out  string
	}{
		"good config":     {set: []string{"betterAuthURL=https://auth.example.com"}, code: 0, out: "config.yaml: ok (issuer https://auth.example.com"},
		"range too short": {set: []string{"betterAuthURL=https://auth.example.com", "config.jwksRefreshInterval=5s"}, code: 1, out: "jwksRefreshInterval: 5s is outside 10s..24h"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var args []string
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			objs := objects(t, args...)
			pod := testPod(t, objs)
			c := nested(t, pod, "spec", "containers").([]any)[0].(map[string]any)
			cmd := toStrings(c["args"])
			if len(cmd) != 2 || cmd[0] != "validate" {
				t.Fatalf("test Pod args %v", cmd)
			}
			vols := nested(t, pod, "spec", "volumes").([]any)
			if name := vols[0].(map[string]any)["configMap"].(map[string]any)["name"]; name != "rel-betterauthz" {
				t.Errorf("the test Pod mounts ConfigMap %v, want the one betterauthz watches", name)
			}
			mount := c["volumeMounts"].([]any)[0].(map[string]any)["mountPath"].(string)
			if filepath.Dir(cmd[1]) != mount {
				t.Fatalf("validates %s, outside its mount %s", cmd[1], mount)
			}

			// The ConfigMap volume, as the kubelet would lay it out for the Pod.
			data, _, _ := unstructured.NestedString(one(t, objs, "ConfigMap").Object, "data", "config.yaml")
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(data), 0o644)
			run := exec.Command(betterauthzBin(t), cmd[0], filepath.Join(dir, filepath.Base(cmd[1])))
			var out bytes.Buffer
			run.Stdout, run.Stderr = &out, &out
			err := run.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(out.String(), tc.out) {
				t.Fatalf("validate exited %d (want %d):\n%s", code, tc.code, out.String())
			}
		})
	}

	// A ConfigMap of the user's own is the one the test validates.
	pod := testPod(t, objects(t, "--set", "configMap.create=false", "--set", "configMap.name=mine"))
	if name := nested(t, pod, "spec", "volumes").([]any)[0].(map[string]any)["configMap"].(map[string]any)["name"]; name != "mine" {
		t.Errorf("test Pod mounts %v, want mine", name)
	}
	for _, o := range objects(t, "--set", "helmTest.enabled=false") {
		if o.GetAnnotations()["helm.sh/hook"] == "test" {
			t.Error("test Pod rendered with helmTest.enabled=false")
		}
	}
}
