// Package version reports the build's version, stamped by the linker:
//
//	go build -ldflags "-X github.com/pruneguard/pruneguard/pkg/version.Version=v0.1.0"
//
// It must not depend on anything else in pruneguard.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release version; "dev" for builds that were not stamped.
var Version = "dev"

// Info is what `pruneguard version` prints.
type Info struct {
	Version   string `json:"version"`
	GitCommit string `json:"gitCommit,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the version of the running binary, with the VCS revision when the Go toolchain
// recorded one.
func Get() Info {
	info := Info{Version: Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				info.GitCommit = s.Value
			}
		}
	}
	return info
}

// String prints the version on one line.
func (i Info) String() string {
	s := fmt.Sprintf("pruneguard %s (%s, %s)", i.Version, i.GoVersion, i.Platform)
	if i.GitCommit != "" {
		s += " commit " + i.GitCommit
	}
	return s
}
