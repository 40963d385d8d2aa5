package planner

import (
	"testing"

	"github.com/modelwhisperer/whisperc/compiler"
)

// BenchmarkPlanWarm measures a warm `whisperc plan` of the QLoRA example
// without process start: checking the program and building the plan.
// The target is well under 50 ms per plan.
func BenchmarkPlanWarm(b *testing.B) {
	for i := 0; i < b.N; i++ {
		prog, ds := compiler.Check("testdata/qlora.whisper", compiler.Options{})
		if ds.HasErrors() {
			b.Fatal(ds)
		}
		if _, ds := Build(prog, nil, Options{}); ds.HasErrors() {
			b.Fatal(ds)
		}
	}
}

// BenchmarkBuild measures Build alone on a checked program.
func BenchmarkBuild(b *testing.B) {
	prog := checkFile(b, "testdata/qlora.whisper")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		Build(prog, nil, Options{})
	}
}
