package main

import (
	"fmt"
	"runtime/debug"
)

type versionCmd struct{}

// version is set by the linker (-ldflags "-X main.version=...") for
// releases; otherwise the module build info is used.
var version = ""

func (versionCmd) Run(e *env) error {
	fmt.Fprintf(e.stdout, "whisperc %s\n", versionString())
	return nil
}

// versionString is the version this binary reports (and records in run
// manifests).
func versionString() string {
	v := version
	if v == "" {
		v = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok {
			if bi.Main.Version != "" {
				v = bi.Main.Version
			}
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" && len(s.Value) >= 12 {
					v += " " + s.Value[:12]
				}
			}
		}
	}
	return v
}
