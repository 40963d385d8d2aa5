package compiler

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/format"
)

// hostileInputs generate, for a size in bytes, the inputs of issue 13
// that once took seconds to minutes: lines of `}`, lines of `x = 1`, one
// expression chaining `+`, and a valid pipeline.
var hostileInputs = []struct {
	name string
	gen  func(n int) string
}{
	{"closers", func(n int) string { return strings.Repeat("}\n", n/2) }},
	{"attributes", func(n int) string { return strings.Repeat("x = 1\n", n/6) }},
	{"chain", func(n int) string {
		return "model m { source = \"hf:a/b\" }\ngenerate g {\n  model = m\n  prompt = \"a\"\n  max_tokens = " +
			strings.Repeat("1+", n/2) + "1\n}\n"
	}},
	{"valid", validProgram},
}

// validProgram returns a valid pipeline of about n bytes.
func validProgram(n int) string {
	var b strings.Builder
	b.WriteString("variable lr { default = 2e-4 }\n")
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "model m%[1]d {\n  source = \"hf:org/model-%[1]d\"\n  quantize { method = nf4, double = true }\n}\n"+
			"dataset d%[1]d {\n  source = \"data/%[1]d.jsonl\"\n  format = jsonl\n}\n"+
			"finetune f%[1]d {\n  model = m%[1]d\n  data  = d%[1]d\n  lora { rank = 16, alpha = 2 * 16 }\n  optimizer { lr = var.lr }\n  batch = 4\n}\n", i)
	}
	return b.String()
}

func checkSource(tb testing.TB, src string) diag.Diagnostics {
	tb.Helper()
	_, ds := Check("big.whisper", Options{ReadFile: func(string) ([]byte, error) { return []byte(src), nil }})
	return ds
}

// BenchmarkHostile measures checking each hostile input at several sizes;
// the time per byte staying flat is what linear means. Run with
// go test -run '^$' -bench Hostile ./compiler.
func BenchmarkHostile(b *testing.B) {
	for _, in := range hostileInputs {
		for _, size := range []int{256 << 10, 1 << 20, 4<<20 - 64<<10} {
			src := in.gen(size)
			b.Run(fmt.Sprintf("%s/%dKiB", in.name, size>>10), func(b *testing.B) {
				b.SetBytes(int64(len(src)))
				for b.Loop() {
					checkSource(b, src)
				}
			})
		}
	}
}

// BenchmarkFormatLarge measures formatting a valid pipeline at several
// sizes.
func BenchmarkFormatLarge(b *testing.B) {
	for _, size := range []int{256 << 10, 1 << 20, 4<<20 - 64<<10} {
		src := []byte(validProgram(size))
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(len(src)))
			for b.Loop() {
				format.Source("big.whisper", src)
			}
		})
	}
}

// TestHostileInputsScaleLinearly checks that checking (and formatting)
// grows linearly with the input. It asserts on the bytes allocated, which
// do not depend on the machine's load, so the test cannot flake: for 4
// times the input they must stay well under the 16 times a quadratic path
// would allocate (exponent 1.5 at most). Time itself is measured by
// BenchmarkHostile and BenchmarkFormatLarge, whose time per byte stays
// flat. It also checks that each input gets at most diag.MaxPerFile
// diagnostics plus E115.
func TestHostileInputsScaleLinearly(t *testing.T) {
	const small, factor = 64 << 10, 4
	for _, in := range hostileInputs {
		a, b := in.gen(small), in.gen(small*factor)
		if ds := checkSource(t, b); len(ds) > diag.MaxPerFile+1 {
			t.Errorf("%s: %d diagnostics, more than the cap", in.name, len(ds))
		}
		exp := allocExponent(func() { checkSource(t, a) }, func() { checkSource(t, b) }, float64(len(b))/float64(len(a)))
		t.Logf("check %s: allocation grows as size^%.2f", in.name, exp)
		if exp > 1.5 {
			t.Errorf("check %s: allocation grows as size^%.2f between %d and %d bytes; it must be linear", in.name, exp, len(a), len(b))
		}
	}
	a, b := []byte(validProgram(small)), []byte(validProgram(small*factor))
	exp := allocExponent(func() { format.Source("a", a) }, func() { format.Source("b", b) }, float64(len(b))/float64(len(a)))
	t.Logf("fmt valid: allocation grows as size^%.2f", exp)
	if exp > 1.5 {
		t.Errorf("fmt: allocation grows as size^%.2f; it must be linear", exp)
	}
}

// allocExponent returns k such that allocated(big) = allocated(small) *
// ratio^k, from the bytes each call allocates.
func allocExponent(small, big func(), ratio float64) float64 {
	bytes := func(f func()) float64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		return float64(max(after.TotalAlloc-before.TotalAlloc, 1))
	}
	return math.Log(bytes(big)/bytes(small)) / math.Log(ratio)
}

// TestHostileFilesOnDisk checks the same inputs through the file system,
// as the command reads them, with a time bound far above what they need.
func TestHostileFilesOnDisk(t *testing.T) {
	dir := t.TempDir()
	for _, in := range hostileInputs {
		p := filepath.Join(dir, in.name+".whisper")
		if err := os.WriteFile(p, []byte(in.gen(512<<10)), 0o644); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, ds := Check(p, Options{})
		if el := time.Since(start); el > 20*time.Second {
			t.Errorf("%s: %v to check 512 KiB", in.name, el)
		}
		if in.name != "valid" && !ds.HasErrors() {
			t.Errorf("%s: no error", in.name)
		}
	}
}

// TestCancelledCheckStops checks that a check whose context is cancelled
// stops after loading: no declaration is checked, so no stage is built.
func TestCancelledCheckStops(t *testing.T) {
	src := validProgram(64 << 10)
	read := func(string) ([]byte, error) { return []byte(src), nil }
	prog, _ := Check("big.whisper", Options{ReadFile: read})
	if len(prog.Stages) == 0 {
		t.Fatal("the program has no stages")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	prog, _ = Check("big.whisper", Options{ReadFile: read, Context: ctx})
	if len(prog.Stages) != 0 || len(prog.Decls) != 0 {
		t.Errorf("a cancelled check declared %d and built %d stages", len(prog.Decls), len(prog.Stages))
	}
}
