package realnode

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/betterauthz/betterauthz/internal/testenv/betterauth"
	"github.com/betterauthz/betterauthz/internal/testenv/kubeapi"
)

// BuildImage builds the Go command pkg (a path in this module, e.g.
// ./internal/testenv/realnode/pause) statically for this machine and packs it as an image
// tagged tag, running as user (UID:GID), with tools/ocibuild, the builder of `make image`. It
// returns the docker-archive tarball, in dir.
func BuildImage(dir, pkg, tag, user string) (string, error) {
	root, err := betterauth.ModuleRoot()
	if err != nil {
		return "", err
	}
	bins, err := kubeapi.Binaries("ocibuild")
	if err != nil {
		return "", err
	}
	name := filepath.Base(pkg)
	bin := filepath.Join(dir, name)
	build := exec.Command("go", "build", "-trimpath", "-o", bin, pkg)
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("realnode: go build %s: %v\n%s", pkg, err, out)
	}
	tarball := filepath.Join(dir, name+"-image.tar")
	pack := exec.Command(bins["ocibuild"], "-tag", tag, "-entrypoint", "/"+name, "-user", user,
		"-binary", "linux/"+goarch()+"="+bin, "-docker-archive", tarball)
	if out, err := pack.CombinedOutput(); err != nil {
		return "", fmt.Errorf("realnode: ocibuild %s: %v\n%s", tag, err, out)
	}
	return tarball, nil
}

func goarch() string {
	out, err := exec.Command("go", "env", "GOARCH").Output()
	if err != nil {
		return "amd64"
	}
	return string(out[:len(out)-1])
}

// importPause builds and imports the sandbox image, before the kubelet needs it.
func (n *Node) importPause() error {
	tarball, err := BuildImage(n.dir, "./internal/testenv/realnode/pause", PauseImage, "65535:65535")
	if err != nil {
		return err
	}
	return n.ImportImage(tarball)
}
