package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version and Commit are stamped at build time with -ldflags "-X ...".
var (
	Version = "dev"
	Commit  = ""
)

// VersionString describes this build.
func VersionString() string {
	return fmt.Sprintf("betterauthz %s (commit %s, %s %s/%s)", Version, commit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// commit is the stamped commit, else the one Go recorded, else "unknown".
func commit() string {
	commit := Commit
	if commit == "" {
		if info, ok := debug.ReadBuildInfo(); ok {
			for _, s := range info.Settings {
				if s.Key == "vcs.revision" {
					commit = s.Value
				}
			}
		}
	}
	if commit == "" {
		commit = "unknown"
	}
	return commit
}
