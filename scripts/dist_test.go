package scripts_test

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"debug/macho"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestDist builds every release artifact (`make dist`, what the release workflow publishes)
// and checks each: the binaries for each platform with their checksums and SBOMs, the
// multi-arch image (the linux/amd64 one byte for byte `make image`'s), the chart package, and
// the release notes.
func TestDist(t *testing.T) {
	dist := filepath.Join(t.TempDir(), "dist")
	cmd := exec.Command("make", "-C", "..", "dist", "DIST="+dist, "VERSION=v9.9.9-test", "COMMIT=abc123")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make dist: %v\n%s", err, b)
	}
	entries, _ := os.ReadDir(dist)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	platforms := []string{"darwin_amd64", "darwin_arm64", "linux_amd64", "linux_arm64"}
	var want []string
	for _, p := range platforms {
		want = append(want, "betterauthz_v9.9.9-test_"+p+".cdx.json", "betterauthz_v9.9.9-test_"+p+".tar.gz")
	}
	want = append(want, "betterauthz-9.9.9-test.tgz", "checksums.txt", "image")
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("dist holds %v, want %v", names, want)
	}

	t.Run("checksums", func(t *testing.T) { checkChecksums(t, dist, want) })
	for _, p := range platforms {
		t.Run(p, func(t *testing.T) {
			checkArchive(t, filepath.Join(dist, "betterauthz_v9.9.9-test_"+p+".tar.gz"), p)
			checkSBOM(t, filepath.Join(dist, "betterauthz_v9.9.9-test_"+p+".cdx.json"), p)
		})
	}
	t.Run("image", func(t *testing.T) { checkImageLayout(t, filepath.Join(dist, "image")) })
	t.Run("chart", func(t *testing.T) {
		show := runHelm(t, "show", "chart", filepath.Join(dist, "betterauthz-9.9.9-test.tgz"))
		var c struct{ Version, AppVersion string }
		if err := yaml.Unmarshal([]byte(show), &c); err != nil || c.Version != "9.9.9-test" || c.AppVersion != "9.9.9-test" {
			t.Errorf("chart version %q appVersion %q (%v)", c.Version, c.AppVersion, err)
		}
		out := runHelm(t, "template", "rel", filepath.Join(dist, "betterauthz-9.9.9-test.tgz"), "--set", "betterAuthURL=https://auth.example.com")
		if !strings.Contains(out, `image: "ghcr.io/betterauthz/betterauthz:9.9.9-test"`) {
			t.Error("the packaged chart does not run the release's image by default")
		}
	})
	t.Run("release notes", func(t *testing.T) {
		chart, _ := os.ReadFile("../charts/betterauthz/Chart.yaml")
		v := regexp.MustCompile(`(?m)^appVersion: "([^"]+)"$`).FindSubmatch(chart)
		if v == nil {
			t.Fatal("Chart.yaml has no quoted appVersion")
		}
		out, err := exec.Command("./release-notes.sh", string(v[1])).Output()
		if err != nil {
			t.Fatalf("release-notes.sh %s: %v (CHANGELOG.md needs a section for the chart's appVersion)", v[1], err)
		}
		for _, s := range []string{"oci://ghcr.io/betterauthz/charts/betterauthz --version " + string(v[1]), "cosign verify ghcr.io/betterauthz/betterauthz:" + string(v[1])} {
			if !strings.Contains(string(out), s) {
				t.Errorf("release notes lack %q:\n%s", s, out)
			}
		}
	})
}

func checkChecksums(t *testing.T, dist string, files []string) {
	f, err := os.Open(filepath.Join(dist, "checksums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var listed []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("checksums.txt line %q", sc.Text())
		}
		if got := sha(t, filepath.Join(dist, name)); got != sum {
			t.Errorf("%s: sha256 %s, checksums.txt says %s", name, got, sum)
		}
		listed = append(listed, name)
	}
	slices.Sort(listed)
	var want []string
	for _, f := range files {
		if f != "checksums.txt" && f != "image" {
			want = append(want, f)
		}
	}
	if !slices.Equal(listed, want) {
		t.Errorf("checksums.txt lists %v, want %v", listed, want)
	}
}

// checkArchive: the binary for the platform, stamped with the version, and the license and docs.
func checkArchive(t *testing.T, path, platform string) {
	files := map[string][]byte{}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if h.Uid != 0 || h.Gid != 0 || h.ModTime.IsZero() {
			t.Errorf("%s: owner %d:%d", h.Name, h.Uid, h.Gid)
		}
		if h.Typeflag == tar.TypeReg {
			files[strings.TrimPrefix(h.Name, "./")], _ = io.ReadAll(tr)
		}
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"CHANGELOG.md", "LICENSE", "README.md", "betterauthz"}) {
		t.Errorf("archive holds %v", names)
	}
	bin := files["betterauthz"]
	switch platform {
	case "linux_amd64", "linux_arm64":
		f, err := elf.NewFile(bytes.NewReader(bin))
		if err != nil {
			t.Fatal(err)
		}
		if machine := map[string]elf.Machine{"linux_amd64": elf.EM_X86_64, "linux_arm64": elf.EM_AARCH64}[platform]; f.Machine != machine {
			t.Errorf("ELF machine %v", f.Machine)
		}
	default:
		f, err := macho.NewFile(bytes.NewReader(bin))
		if err != nil {
			t.Fatal(err)
		}
		if cpu := map[string]macho.Cpu{"darwin_amd64": macho.CpuAmd64, "darwin_arm64": macho.CpuArm64}[platform]; f.Cpu != cpu {
			t.Errorf("Mach-O CPU %v", f.Cpu)
		}
	}
	if !bytes.Contains(bin, []byte("v9.9.9-test")) {
		t.Error("the binary does not carry its version")
	}
	if platform == "linux_"+goarch(t) {
		assertStaticBinary(t, bin, "v9.9.9-test")
	}
}

func goarch(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOARCH").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// checkSBOM: a CycloneDX document for the release's version and platform, listing the modules
// linked into the binary.
func checkSBOM(t *testing.T, path, platform string) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		BOMFormat, SpecVersion string
		Metadata               struct {
			Component struct{ Name, Version, Purl string }
		}
		Components []struct{ Name, Version, Purl string }
	}
	if err := json.Unmarshal(b, &bom); err != nil {
		t.Fatal(err)
	}
	goos, arch, _ := strings.Cut(platform, "_")
	mc := bom.Metadata.Component
	if bom.BOMFormat != "CycloneDX" || mc.Name != "github.com/betterauthz/betterauthz" || mc.Version != "v9.9.9-test" ||
		!strings.Contains(mc.Purl, "goos="+goos) || !strings.Contains(mc.Purl, "goarch="+arch) {
		t.Errorf("SBOM %s %s, component %+v", bom.BOMFormat, bom.SpecVersion, mc)
	}
	var mods []string
	for _, c := range bom.Components {
		mods = append(mods, c.Name)
	}
	for _, m := range []string{"google.golang.org/grpc", "github.com/envoyproxy/go-control-plane/envoy", "k8s.io/client-go"} {
		if !slices.Contains(mods, m) {
			t.Errorf("the SBOM does not list %s", m)
		}
	}
}

// checkImageLayout: one index for linux/amd64 and linux/arm64, tagged for the release, each
// image holding its platform's binary; the linux/amd64 image is the one `make image` builds for
// the same commit and version.
func checkImageLayout(t *testing.T, dir string) {
	blob := func(digest string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, "blobs", strings.Replace(digest, ":", "/", 1)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type descriptor struct {
		MediaType   string
		Digest      string
		Annotations map[string]string
		Platform    *struct{ OS, Architecture, Variant string }
	}
	var top struct{ Manifests []descriptor }
	b, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if err := json.Unmarshal(b, &top); err != nil || len(top.Manifests) != 1 {
		t.Fatalf("index.json: %v %s", err, b)
	}
	if ref := top.Manifests[0].Annotations["org.opencontainers.image.ref.name"]; ref != "ghcr.io/betterauthz/betterauthz:9.9.9-test" {
		t.Errorf("ref.name %q", ref)
	}
	var idx struct {
		MediaType string
		Manifests []descriptor
	}
	if err := json.Unmarshal(blob(top.Manifests[0].Digest), &idx); err != nil {
		t.Fatal(err)
	}
	var platforms []string
	for _, m := range idx.Manifests {
		p := m.Platform.OS + "/" + m.Platform.Architecture
		platforms = append(platforms, p)
		var man struct {
			Config struct{ Digest string }
			Layers []struct{ Digest string }
		}
		if err := json.Unmarshal(blob(m.Digest), &man); err != nil {
			t.Fatal(err)
		}
		var cfg imageConfig
		if err := json.Unmarshal(blob(man.Config.Digest), &cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.OS+"/"+cfg.Architecture != p || cfg.Config.User != "65532:65532" || cfg.Config.Labels["org.opencontainers.image.version"] != "v9.9.9-test" {
			t.Errorf("%s: config %+v", p, cfg)
		}
		files := map[string]imageFile{}
		for _, l := range man.Layers {
			readLayer(t, blob(l.Digest), files)
		}
		f, err := elf.NewFile(bytes.NewReader(files["betterauthz"].data))
		if err != nil || f.Machine != map[string]elf.Machine{"linux/amd64": elf.EM_X86_64, "linux/arm64": elf.EM_AARCH64}[p] {
			t.Errorf("%s: the binary is not for the platform (%v)", p, err)
		}
		if p == "linux/amd64" && goarch(t) == "amd64" {
			// `make image` of the same commit and version gives the same image.
			out, err := exec.Command("make", "-C", "..", "-s", "image", "VERSION=v9.9.9-test", "COMMIT=abc123",
				"IMAGE_OUT="+filepath.Join(t.TempDir(), "i.tar"), "IMAGE_BIN="+filepath.Join(t.TempDir(), "b")).CombinedOutput()
			if err != nil {
				t.Fatalf("make image: %v\n%s", err, out)
			}
			if !strings.Contains(string(out), " linux/amd64 "+m.Digest) {
				t.Errorf("make image built another image than the release's %s:\n%s", m.Digest, out)
			}
		}
	}
	slices.Sort(platforms)
	if !slices.Equal(platforms, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("platforms %v", platforms)
	}
	if idx.MediaType != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("index media type %s", idx.MediaType)
	}
}
