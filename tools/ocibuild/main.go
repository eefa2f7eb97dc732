// Command ocibuild builds betterauthz's container image without a Docker engine or a registry:
// one static binary on an empty base, with the few files a Go program on scratch needs. It
// writes a docker-archive tarball (`ctr images import`, `docker load`) for one platform and an
// OCI image layout holding a multi-platform index (`crane push DIR REF`).
//
// The image holds two layers, each reproducible (fixed times, owners and order, so the same
// inputs give the same digests):
//
//	base: /etc/passwd and /etc/group (root, nonroot 65532, nobody), /etc/ssl/certs/
//	      ca-certificates.crt (the -ca-bundle, for HTTPS JWKS), /tmp (1777)
//	app:  the binary, at the entrypoint's path
//
// Usage (see the Makefile's image and dist targets):
//
//	ocibuild -tag ghcr.io/betterauthz/betterauthz:0.1.0 -binary linux/amd64=bin/betterauthz-static \
//	  -entrypoint /betterauthz -user 65532:65532 -port 9000/tcp -label KEY=VALUE ... \
//	  -docker-archive bin/betterauthz-image.tar
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

type options struct {
	tag, entrypoint, user, caBundle, dockerArchive, ociLayout, rootfs string
	epoch                                                             int64
	binaries, labels, ports                                           listFlag
}

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ocibuild:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	var o options
	fs := flag.NewFlagSet("ocibuild", flag.ContinueOnError)
	fs.StringVar(&o.tag, "tag", "", "image reference, e.g. ghcr.io/betterauthz/betterauthz:0.1.0 (required)")
	fs.Var(&o.binaries, "binary", "OS/ARCH=PATH: the static binary for a platform (repeat for each)")
	fs.StringVar(&o.entrypoint, "entrypoint", "", "absolute path of the binary in the image, its entrypoint (required)")
	fs.StringVar(&o.user, "user", "65532:65532", "UID:GID the image runs as")
	fs.Var(&o.ports, "port", "exposed port, e.g. 9000/tcp (repeat for each)")
	fs.Var(&o.labels, "label", "KEY=VALUE: an image label, also an annotation of the manifest and index (repeat)")
	fs.StringVar(&o.caBundle, "ca-bundle", "", "PEM file installed as /etc/ssl/certs/ca-certificates.crt (empty: none)")
	fs.Int64Var(&o.epoch, "epoch", epochDefault(), "seconds since 1970 for every time in the image (default: $SOURCE_DATE_EPOCH, else 0)")
	fs.StringVar(&o.dockerArchive, "docker-archive", "", "write a docker-archive tarball here (one -binary only)")
	fs.StringVar(&o.ociLayout, "oci-layout", "", "write an OCI image layout with an index of every platform here (a new directory)")
	fs.StringVar(&o.rootfs, "rootfs", "", "write the image's files here instead (a new directory; one -binary only): the Dockerfile copies them onto scratch")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.tag == "" || !path.IsAbs(o.entrypoint) || len(o.binaries) == 0 || (o.dockerArchive == "" && o.ociLayout == "" && o.rootfs == "") {
		return errors.New("-tag, an absolute -entrypoint, at least one -binary and an output (-docker-archive, -oci-layout, -rootfs) are required")
	}
	if (o.dockerArchive != "" || o.rootfs != "") && len(o.binaries) != 1 {
		return errors.New("-docker-archive and -rootfs hold one platform: give one -binary")
	}
	ref, err := name.NewTag(o.tag, name.StrictValidation)
	if err != nil {
		return err
	}
	baseFiles, err := baseEntries(o)
	if err != nil {
		return err
	}
	if o.rootfs != "" {
		_, file, _ := strings.Cut(o.binaries[0], "=")
		app, err := appEntries(o, file)
		if err != nil {
			return err
		}
		return writeDir(o.rootfs, append(baseFiles, app...))
	}
	base, err := layer(o.epoch, baseFiles)
	if err != nil {
		return err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var images []v1.Image
	for _, b := range o.binaries {
		platform, file, ok := strings.Cut(b, "=")
		if !ok {
			return fmt.Errorf("-binary %q: want OS/ARCH=PATH", b)
		}
		p, err := v1.ParsePlatform(platform)
		if err != nil {
			return err
		}
		if p.OS == "linux" && p.Architecture == "arm64" && p.Variant == "" {
			p.Variant = "v8"
		}
		img, err := image(o, base, p, file)
		if err != nil {
			return fmt.Errorf("%s: %w", platform, err)
		}
		images = append(images, img)
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: p}})
		digest, _ := img.Digest()
		fmt.Fprintf(stdout, "%s %s %s\n", ref, p, digest)
	}
	idx = mutate.Annotations(idx, labels(o)).(v1.ImageIndex)
	if o.dockerArchive != "" {
		if err := tarball.WriteToFile(o.dockerArchive, ref, images[0]); err != nil {
			return err
		}
	}
	if o.ociLayout != "" {
		if _, err := os.Stat(o.ociLayout); err == nil {
			return fmt.Errorf("-oci-layout %s exists: give a new directory", o.ociLayout)
		}
		lp, err := layout.Write(o.ociLayout, empty.Index)
		if err != nil {
			return err
		}
		if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": ref.String()})); err != nil {
			return err
		}
		digest, _ := idx.Digest()
		fmt.Fprintf(stdout, "%s index %s\n", ref, digest)
	}
	return nil
}

func epochDefault() int64 {
	n, _ := strconv.ParseInt(os.Getenv("SOURCE_DATE_EPOCH"), 10, 64)
	return n
}

func labels(o options) map[string]string {
	m := map[string]string{}
	for _, l := range o.labels {
		k, v, _ := strings.Cut(l, "=")
		m[k] = v
	}
	return m
}

// image is one platform's image: the base layer, the binary's layer and the config.
func image(o options, base v1.Layer, p *v1.Platform, file string) (v1.Image, error) {
	files, err := appEntries(o, file)
	if err != nil {
		return nil, err
	}
	app, err := layer(o.epoch, files)
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: time.Unix(o.epoch, 0).UTC()}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img,
		mutate.Addendum{Layer: base, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "ocibuild: /etc/passwd, /etc/group, CA certificates, /tmp"}},
		mutate.Addendum{Layer: app, MediaType: types.OCILayer, History: v1.History{Created: created, CreatedBy: "ocibuild: " + o.entrypoint}},
	)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = created
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	cf.Config = v1.Config{
		User:         o.user,
		Entrypoint:   []string{o.entrypoint},
		Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		WorkingDir:   "/",
		Labels:       labels(o),
		ExposedPorts: map[string]struct{}{},
	}
	for _, port := range o.ports {
		cf.Config.ExposedPorts[port] = struct{}{}
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	return mutate.Annotations(img, labels(o)).(v1.Image), nil
}

// appEntries is the binary, at the entrypoint's path.
func appEntries(o options, file string) ([]entry, error) {
	bin, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return withParents([]entry{{name: o.entrypoint[1:], mode: 0o755, data: bin}}), nil
}

// baseEntries are what a static Go program on scratch needs from a distribution: user and
// group names for 65532 (nonroot, as distroless names it), the CA bundle, a /tmp.
func baseEntries(o options) ([]entry, error) {
	entries := []entry{
		{name: "etc/", mode: 0o755, dir: true},
		{name: "etc/group", mode: 0o644, data: []byte("root:x:0:\nnonroot:x:65532:\nnobody:x:65534:\n")},
		{name: "etc/passwd", mode: 0o644, data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n")},
		{name: "tmp/", mode: 0o1777, dir: true},
	}
	if o.caBundle != "" {
		ca, err := os.ReadFile(o.caBundle)
		if err != nil {
			return nil, err
		}
		if !bytes.Contains(ca, []byte("-----BEGIN CERTIFICATE-----")) {
			return nil, fmt.Errorf("-ca-bundle %s holds no PEM certificate", o.caBundle)
		}
		entries = append(entries, entry{name: "etc/ssl/certs/ca-certificates.crt", mode: 0o644, data: ca})
	}
	return withParents(entries), nil
}

type entry struct {
	name string
	mode int64
	dir  bool
	data []byte
}

// withParents adds the missing parent directories (e.g. usr/ and usr/bin/ for usr/bin/x) and
// sorts the entries by name, so parents come first.
func withParents(entries []entry) []entry {
	have := map[string]bool{}
	for _, e := range entries {
		have[e.name] = true
	}
	for _, e := range entries {
		for dir := path.Dir(strings.TrimSuffix(e.name, "/")); dir != "."; dir = path.Dir(dir) {
			if !have[dir+"/"] {
				have[dir+"/"] = true
				entries = append(entries, entry{name: dir + "/", mode: 0o755, dir: true})
			}
		}
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })
	return entries
}

// layer is a gzip-compressed tar of entries, owned by root, every time the epoch: the same
// entries give the same bytes.
func layer(epoch int64, entries []entry) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime := time.Unix(epoch, 0).UTC()
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, ModTime: mtime, Format: tar.FormatPAX}
		if e.dir {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil },
		tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.BestCompression))
}

// writeDir writes entries under dir, with their modes.
func writeDir(dir string, entries []entry) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		p := filepath.Join(dir, filepath.FromSlash(e.name))
		var err error
		if e.dir {
			err = os.Mkdir(p, 0o755)
		} else {
			err = os.WriteFile(p, e.data, 0o600)
		}
		if err == nil {
			err = os.Chmod(p, os.FileMode(e.mode&0o777)|modeBits(e.mode))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func modeBits(m int64) os.FileMode {
	if m&0o1000 != 0 {
		return os.ModeSticky
	}
	return 0
}
