// Command gendocs writes the generated language reference (spec/blocks.md,
// spec/diagnostics.md, spec/rules.md) from package stdlib. Run it with
// `go generate ./stdlib`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/modelwhisperer/whisperc/stdlib/internal/specdoc"
)

func main() {
	out := flag.String("out", "spec", "directory to write the spec files into")
	flag.Parse()
	files := specdoc.Files()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(*out, n), files[n], 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "gendocs:", err)
			os.Exit(1)
		}
	}
}
