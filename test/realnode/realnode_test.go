// Package realnode_test installs what betterauthz ships — the `make image` image, the Helm
// chart, the sidecar manifests — on a real Kubernetes node (internal/testenv/realnode:
// containerd, runc, a kubelet, kube-proxy and a bridge CNI in a network namespace of the
// test's own), and proves that it runs: pods really Ready, checks answered through a Service
// with real Better Auth tokens, the security settings enforced by the kernel, no check lost
// while pods restart, `helm test`, and nothing left after an uninstall.
package realnode_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/internal/testenv/realnode"
)

// TestRealNode brings one node up for the chart and the sidecar manifests in turn.
func TestRealNode(t *testing.T) {
	start := time.Now()
	image := make(chan builtImage, 1)
	go func() { image <- makeImage(t) }()
	node := realnode.Start(t)
	ba := node.StartBetterAuth(t, betterauth.StartOptions{})
	img := <-image
	if img.err != nil {
		t.Fatal(img.err)
	}
	if err := node.ImportImage(img.tarball); err != nil {
		t.Fatal(err)
	}
	t.Logf("node, Better Auth and the imported image ready after %s", time.Since(start).Round(time.Second))
	defer func() {
		if t.Failed() {
			t.Logf("node logs:\n%s", node.Logs())
		}
	}()
	t.Run("chart", func(t *testing.T) { testChart(t, node, ba, img.ref) })
	t.Run("sidecar", func(t *testing.T) { testSidecar(t, node, ba, img.ref) })
}

type builtImage struct {
	tarball, ref string
	err          error
}

// makeImage runs `make image` as a user would, at the chart's appVersion: the image is then
// the one the chart and the sidecar manifests name by default
// (ghcr.io/betterauthz/betterauthz:<appVersion>), and the node holds it, so that nothing
// needs a registry and no default is overridden.
func makeImage(t *testing.T) builtImage {
	dir := t.TempDir()
	chart, err := os.ReadFile("../../charts/betterauthz/Chart.yaml")
	if err != nil {
		return builtImage{err: err}
	}
	m := regexp.MustCompile(`(?m)^appVersion: "?([^"\s]+)"?$`).FindSubmatch(chart)
	if m == nil {
		return builtImage{err: errors.New("Chart.yaml has no appVersion")}
	}
	out := filepath.Join(dir, "betterauthz-image.tar")
	cmd := exec.Command("make", "-C", "../..", "image", "VERSION=v"+string(m[1]), "IMAGE_OUT="+out, "IMAGE_BIN="+filepath.Join(dir, "betterauthz"))
	if b, err := cmd.CombinedOutput(); err != nil {
		return builtImage{err: fmt.Errorf("make image: %v\n%s", err, b)}
	}
	return builtImage{tarball: out, ref: "ghcr.io/betterauthz/betterauthz:" + string(m[1])}
}
