package scripts_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/x509"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// imageConfig is the part of an OCI image config the tests read.
type imageConfig struct {
	OS           string `json:"os"`
	Architecture string `json:"architecture"`
	Variant      string `json:"variant"`
	Config       struct {
		User         string              `json:"User"`
		Entrypoint   []string            `json:"Entrypoint"`
		Cmd          []string            `json:"Cmd"`
		Env          []string            `json:"Env"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts"`
		Labels       map[string]string   `json:"Labels"`
	} `json:"config"`
}

// imageFile is one file of an image's layers.
type imageFile struct {
	mode     int64
	uid, gid int
	data     []byte
}

// image is what the tests read of an image: its config and its files, layers applied in order.
type image struct {
	config imageConfig
	files  map[string]imageFile
}

// readDockerArchive reads `make image`'s tarball: the tags of its one image, and the image.
func readDockerArchive(t *testing.T, path string) ([]string, image) {
	t.Helper()
	entries := map[string][]byte{}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		entries[h.Name], _ = io.ReadAll(tr)
	}
	var manifest []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(entries["manifest.json"], &manifest); err != nil || len(manifest) != 1 {
		t.Fatalf("manifest.json: %v %s", err, entries["manifest.json"])
	}
	var img image
	if err := json.Unmarshal(entries[manifest[0].Config], &img.config); err != nil {
		t.Fatal(err)
	}
	img.files = map[string]imageFile{}
	for _, l := range manifest[0].Layers {
		readLayer(t, entries[l], img.files)
	}
	return manifest[0].RepoTags, img
}

// readLayer adds a gzipped layer tar's files to files.
func readLayer(t *testing.T, blob []byte, files map[string]imageFile) {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		} else if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(tr)
		if h.Typeflag != tar.TypeReg && h.Typeflag != tar.TypeDir {
			t.Errorf("layer entry %s has type %c: only files and directories expected", h.Name, h.Typeflag)
		}
		files[h.Name] = imageFile{mode: h.Mode, uid: h.Uid, gid: h.Gid, data: data}
	}
}

func fileNames(files map[string]imageFile) []string {
	var names []string
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// makeImage runs `make image` into dir, with a fixed version and commit.
func makeImage(t *testing.T, dir string, extra ...string) string {
	t.Helper()
	out := filepath.Join(dir, "image.tar")
	args := append([]string{"-C", "..", "image", "IMAGE_OUT=" + out, "IMAGE_BIN=" + filepath.Join(dir, "betterauthz"),
		"VERSION=v9.9.9-test", "COMMIT=abc123"}, extra...)
	if b, err := exec.Command("make", args...).CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, b)
	}
	return out
}

// TestMakeImage: `make image` builds, without Docker, the image the README and the chart name:
// the static binary as entrypoint, run as 65532, with CA certificates and nothing else (no
// shell), labelled, small, and the same bytes for the same commit.
func TestMakeImage(t *testing.T) {
	dir := t.TempDir()
	tarball := makeImage(t, dir)
	tags, img := readDockerArchive(t, tarball)
	if !slices.Equal(tags, []string{"ghcr.io/betterauthz/betterauthz:9.9.9-test"}) {
		t.Errorf("tags %v", tags)
	}
	c := img.config
	if c.OS != "linux" || c.Architecture != runtime.GOARCH {
		t.Errorf("platform %s/%s", c.OS, c.Architecture)
	}
	if c.Config.User != "65532:65532" || !slices.Equal(c.Config.Entrypoint, []string{"/betterauthz"}) || c.Config.Cmd != nil {
		t.Errorf("user %q, entrypoint %q, cmd %q", c.Config.User, c.Config.Entrypoint, c.Config.Cmd)
	}
	for _, p := range []string{"9000/tcp", "8080/tcp"} {
		if _, ok := c.Config.ExposedPorts[p]; !ok {
			t.Errorf("port %s not exposed: %v", p, c.Config.ExposedPorts)
		}
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.source":   "https://github.com/betterauthz/betterauthz",
		"org.opencontainers.image.revision": "abc123",
		"org.opencontainers.image.version":  "v9.9.9-test",
		"org.opencontainers.image.licenses": "Apache-2.0",
	} {
		if c.Config.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, c.Config.Labels[k], v)
		}
	}

	want := []string{"betterauthz", "etc/", "etc/group", "etc/passwd", "etc/ssl/", "etc/ssl/certs/", "etc/ssl/certs/ca-certificates.crt", "tmp/"}
	if got := fileNames(img.files); !slices.Equal(got, want) {
		t.Errorf("files %v, want exactly %v (no shell, no package manager)", got, want)
	}
	for name, f := range img.files {
		if f.uid != 0 || f.gid != 0 {
			t.Errorf("%s owned by %d:%d, want root", name, f.uid, f.gid)
		}
	}
	if !regexp.MustCompile(`(?m)^nonroot:x:65532:65532:`).Match(img.files["etc/passwd"].data) {
		t.Errorf("/etc/passwd lacks nonroot 65532:\n%s", img.files["etc/passwd"].data)
	}
	if n := pemCertificates(t, img.files["etc/ssl/certs/ca-certificates.crt"].data); n < 50 {
		t.Errorf("the CA bundle holds %d certificates", n)
	}
	if m := img.files["tmp/"].mode; m != 0o1777 {
		t.Errorf("/tmp mode %o", m)
	}
	bin := img.files["betterauthz"]
	if bin.mode != 0o755 {
		t.Errorf("/betterauthz mode %o", bin.mode)
	}
	assertStaticBinary(t, bin.data, "v9.9.9-test")
	st, _ := os.Stat(tarball)
	if st.Size() > 24<<20 {
		t.Errorf("the image is %d MiB: it holds a static binary and a CA bundle, it should stay small", st.Size()>>20)
	}
	t.Logf("image: %.1f MiB", float64(st.Size())/(1<<20))

	// Reproducible: the same commit gives the same image, byte for byte.
	again := makeImage(t, t.TempDir())
	if sha(t, tarball) != sha(t, again) {
		t.Error("two `make image` runs of one commit gave different tarballs")
	}
}

func pemCertificates(t *testing.T, b []byte) int {
	t.Helper()
	n := 0
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return n
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err == nil {
			n++
		}
	}
}

// assertStaticBinary: a static ELF of this machine's architecture, stamped with version, that
// runs (`betterauthz version`).
func assertStaticBinary(t *testing.T, data []byte, version string) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not an ELF binary: %v", err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked")
		}
	}
	path := filepath.Join(t.TempDir(), "betterauthz")
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "version").Output()
	if err != nil || !strings.HasPrefix(string(out), "betterauthz "+version+" ") {
		t.Errorf("betterauthz version: %q %v", out, err)
	}
}

func sha(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestDockerfileBuildsTheSameImage checks what no Docker engine here can run: the Dockerfile's
// final stage is scratch plus the files of `make image-rootfs`, which are `make image`'s, with
// the same user, entrypoint, ports, environment and labels.
func TestDockerfileBuildsTheSameImage(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := strings.ReplaceAll(string(b), "\\\n", " ")
	stages := regexp.MustCompile(`(?m)^FROM `).Split(df, -1)
	if len(stages) != 3 {
		t.Fatalf("want two stages, found %d", len(stages)-1)
	}
	if !regexp.MustCompile(`(?m)^RUN make image-rootfs .*ROOTFS=/out/rootfs`).MatchString(stages[1]) {
		t.Error("the build stage does not run make image-rootfs into /out/rootfs")
	}
	final := "FROM " + stages[2]
	for _, re := range []string{`^FROM scratch\n`, `(?m)^COPY --from=build /out/rootfs/ /$`} {
		if !regexp.MustCompile(re).MatchString(final) {
			t.Errorf("the final stage does not match %s", re)
		}
	}
	dir := t.TempDir()
	_, img := readDockerArchive(t, makeImage(t, dir))
	c := img.config.Config
	directive := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + ` (.*)$`).FindStringSubmatch(final)
		if m == nil {
			t.Fatalf("the final stage has no %s", name)
		}
		return strings.TrimSpace(m[1])
	}
	if u := directive("USER"); u != c.User {
		t.Errorf("Dockerfile USER %s, image %s", u, c.User)
	}
	if e := directive("ENTRYPOINT"); e != fmt.Sprintf("[%q]", c.Entrypoint[0]) {
		t.Errorf("Dockerfile ENTRYPOINT %s, image %q", e, c.Entrypoint)
	}
	var ports []string
	for p := range c.ExposedPorts {
		ports = append(ports, p)
	}
	exposed := strings.Fields(directive("EXPOSE"))
	slices.Sort(ports)
	slices.Sort(exposed)
	if !slices.Equal(exposed, ports) {
		t.Errorf("Dockerfile EXPOSE %v, image %v", exposed, ports)
	}
	if env := directive("ENV"); !slices.Contains(c.Env, env) {
		t.Errorf("Dockerfile ENV %s, image %v", env, c.Env)
	}
	labels := map[string]string{}
	for _, m := range regexp.MustCompile(`(org\.opencontainers\.image\.[a-z]+)="([^"]*)"`).FindAllStringSubmatch(directive("LABEL"), -1) {
		labels[m[1]] = m[2]
	}
	for k, v := range c.Labels {
		switch {
		case labels[k] == "":
			t.Errorf("the Dockerfile lacks label %s", k)
		case !strings.Contains(labels[k], "${") && labels[k] != v:
			t.Errorf("label %s: Dockerfile %q, image %q", k, labels[k], v)
		}
	}
	if len(labels) != len(c.Labels) {
		t.Errorf("Dockerfile labels %v, image labels %v", labels, c.Labels)
	}

	rootfs := filepath.Join(dir, "rootfs")
	cmd := exec.Command("make", "-C", "..", "image-rootfs", "ROOTFS="+rootfs, "IMAGE_BIN="+filepath.Join(dir, "betterauthz"), "VERSION=v9.9.9-test", "COMMIT=abc123")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make image-rootfs: %v\n%s", err, b)
	}
	for name, f := range img.files {
		p := filepath.Join(rootfs, strings.TrimSuffix(name, "/"))
		st, err := os.Stat(p)
		if err != nil {
			t.Errorf("image-rootfs lacks %s", name)
			continue
		}
		mode := int64(st.Mode().Perm())
		if st.Mode()&os.ModeSticky != 0 {
			mode |= 0o1000
		}
		if mode != f.mode {
			t.Errorf("%s: image-rootfs mode %o, image %o", name, mode, f.mode)
		}
		if !st.IsDir() {
			if b, _ := os.ReadFile(p); !bytes.Equal(b, f.data) {
				t.Errorf("%s differs between image-rootfs and the image", name)
			}
		}
	}
}
