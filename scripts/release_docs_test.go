package scripts_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// release is what .github/workflows/release.yml publishes to, and the version the repository
// is at (Chart.yaml's appVersion, which a release tag must equal).
func release(t *testing.T) (image, charts, version string) {
	t.Helper()
	wf, err := os.ReadFile("../.github/workflows/release.yml")
	if err != nil {
		t.Fatal(err)
	}
	env := func(name string) string {
		m := regexp.MustCompile(`(?m)^      ` + name + `: (\S+)$`).FindSubmatch(wf)
		if m == nil {
			t.Fatalf("release.yml sets no %s", name)
		}
		return string(m[1])
	}
	chart, _ := os.ReadFile("../charts/betterauthz/Chart.yaml")
	v := regexp.MustCompile(`(?m)^appVersion: "([^"]+)"$`).FindSubmatch(chart)
	if v == nil {
		t.Fatal("Chart.yaml has no quoted appVersion")
	}
	return env("IMAGE"), env("CHARTS"), string(v[1])
}

// releasedChart is the chart to render for a `helm install` of the docs: an oci:// reference
// must be the one the release workflow pushes, at the repository's version when a --version is
// given, and renders as the chart in charts/ (which it is, packaged: dist_test.go).
func releasedChart(t *testing.T, ref string, args []string) string {
	t.Helper()
	if !strings.HasPrefix(ref, "oci://") {
		return ref
	}
	_, charts, version := release(t)
	if ref != charts+"/betterauthz" {
		t.Errorf("the docs install %s, the release pushes %s/betterauthz", ref, charts)
	}
	if i := slices.Index(args, "--version"); i >= 0 && (i+1 >= len(args) || args[i+1] != version) {
		t.Errorf("the docs install %v, want --version %s (Chart.yaml)", args, version)
	}
	return "charts/betterauthz"
}

// checkCosignVerify: a cosign verify of the docs names the image the release pushes, at the
// repository's version, and the identity that signs it: release.yml, from a tag.
func checkCosignVerify(t *testing.T, f []string) {
	t.Helper()
	image, _, version := release(t)
	flags := map[string]string{}
	var refs []string
	for i := 2; i < len(f); i++ {
		if strings.HasPrefix(f[i], "--") && i+1 < len(f) {
			flags[f[i]] = strings.Trim(f[i+1], "'")
			i++
		} else {
			refs = append(refs, f[i])
		}
	}
	if !slices.Equal(refs, []string{image + ":" + version}) {
		t.Errorf("cosign verify %v, want %s:%s", refs, image, version)
	}
	re, err := regexp.Compile(flags["--certificate-identity-regexp"])
	if err != nil || !re.MatchString("https://github.com/betterauthz/betterauthz/.github/workflows/release.yml@refs/tags/v"+version) {
		t.Errorf("--certificate-identity-regexp %q does not match the release workflow at a tag (%v)", flags["--certificate-identity-regexp"], err)
	}
	if flags["--certificate-oidc-issuer"] != "https://token.actions.githubusercontent.com" {
		t.Errorf("--certificate-oidc-issuer %q", flags["--certificate-oidc-issuer"])
	}
	wf, _ := os.ReadFile("../.github/workflows/release.yml")
	for _, want := range []string{"id-token: write", `cosign sign --yes --recursive "$IMAGE@$DIGEST"`} {
		if !strings.Contains(string(wf), want) {
			t.Errorf("release.yml lacks %q: the docs' cosign verify would find no signature", want)
		}
	}
}
