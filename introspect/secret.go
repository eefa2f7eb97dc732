package introspect

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
)

// maxSecretBytes bounds the client secret file.
const maxSecretBytes = 4096

// secretFile is the client secret, read from a file that may change at any time (a Secret
// mounted as a volume). As the gRPC port's TLS files, it is looked at before each call rather
// than watched — a stat per call to Better Auth, no event to miss — and re-read only when the
// stat differs (a Secret volume's symlink swap, a rename, an edit in place). A re-read that
// fails keeps the last good secret. Neither the secret nor any part of the file ever appears in
// an error.
type secretFile struct {
	path string

	mu    sync.Mutex // serialises re-reads
	stat  os.FileInfo
	value string
}

func newSecretFile(path string) (*secretFile, error) {
	if path == "" {
		return nil, errors.New("introspect: no client secret file")
	}
	stat, value, err := readSecret(path)
	if err != nil {
		return nil, err
	}
	return &secretFile{path: path, stat: stat, value: value}, nil
}

// get returns the secret, re-read first when the file changed. With an error, it returns the
// last good secret.
func (f *secretFile) get() (string, error) {
	stat, statErr := os.Stat(f.path)
	f.mu.Lock()
	defer f.mu.Unlock()
	if statErr == nil && sameStat(stat, f.stat) {
		return f.value, nil
	}
	stat, value, err := readSecret(f.path)
	if err != nil {
		return f.value, err
	}
	f.stat, f.value = stat, value
	return value, nil
}

// reload reads the file again whatever its stat says. With an error, the last good secret
// stays.
func (f *secretFile) reload() error {
	stat, value, err := readSecret(f.path)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stat, f.value = stat, value
	return nil
}

func sameStat(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// readSecret reads a client secret file: a regular file of at most maxSecretBytes, whose
// content without surrounding white space (a trailing newline) is the secret, printable ASCII.
func readSecret(path string) (os.FileInfo, string, error) {
	stat, err := os.Stat(path)
	if err != nil {
		return nil, "", fmt.Errorf("client secret file: %w", err)
	}
	if !stat.Mode().IsRegular() {
		return nil, "", fmt.Errorf("client secret file %s is not a regular file", path)
	}
	if stat.Size() > maxSecretBytes {
		return nil, "", fmt.Errorf("client secret file %s is larger than %d bytes", path, maxSecretBytes)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("client secret file: %w", err)
	}
	if len(b) > maxSecretBytes {
		return nil, "", fmt.Errorf("client secret file %s is larger than %d bytes", path, maxSecretBytes)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return nil, "", fmt.Errorf("client secret file %s is empty", path)
	}
	if strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
		return nil, "", fmt.Errorf("client secret file %s holds characters other than printable ASCII", path)
	}
	return stat, v, nil
}
