package format

import (
	"os"
	"testing"

	"github.com/modelwhisperer/whisperc/lang/parser"
)

// BenchmarkFile formats the largest example (parsing excluded).
func BenchmarkFile(b *testing.B) {
	src, err := os.ReadFile("../../examples/qlora-llama2-7b.whisper")
	if err != nil {
		b.Fatal(err)
	}
	f, ds := parser.Parse("x.whisper", src)
	if ds.HasErrors() {
		b.Fatal(ds)
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		File(f)
	}
}

// BenchmarkSource parses, formats and verifies (re-parses) the same file.
func BenchmarkSource(b *testing.B) {
	src, err := os.ReadFile("../../examples/qlora-llama2-7b.whisper")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		Source("x.whisper", src)
	}
}
