package compiler

import (
	"fmt"
	"github.com/modelwhisperer/whisperc/lang/ast"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/parser"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzCheck checks arbitrary text as a one-file program (its imports fail
// to read) and asserts that the checker neither panics nor reports an
// internal error, and that every range lies within the file.
func FuzzCheck(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "examples", "*.whisper"))
	more, _ := filepath.Glob(filepath.Join("..", "examples", "*", "*.whisper"))
	tests, _ := filepath.Glob(filepath.Join("testdata", "*", "*.whisper"))
	for _, p := range append(append(seeds, more...), tests...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
	f.Add(qlora)
	f.Fuzz(func(t *testing.T, src string) {
		read := func(name string) ([]byte, error) {
			if name == "fuzz.whisper" {
				return []byte(src), nil
			}
			return nil, os.ErrNotExist
		}
		prog, ds := Check("fuzz.whisper", Options{ReadFile: read, Vars: map[string]string{"lr": "1e-4"}})
		if prog == nil {
			t.Fatal("nil program")
		}
		for _, d := range ds {
			if d.Code == "E200" {
				t.Fatalf("internal error: %s", d.Detail)
			}
		}
		checkRanges(t, prog, ds)
	})
}

// bigProgram returns a program of about n lines: many models, datasets,
// finetunes and generates with every attribute written.
func bigProgram(n int) string {
	var b strings.Builder
	b.WriteString("variable lr { default = 2e-4 }\ntrack { backend = tensorboard }\nversion { data = dvc, checkpoints = dvc }\n")
	for i := 0; b.Len() == 0 || strings.Count(b.String(), "\n") < n; i++ {
		fmt.Fprintf(&b, `model m%[1]d {
  source    = "hf:org/model-%[1]d"
  tokenizer = "tok/%[1]d.model"
  quantize { method = nf4, double = true, compute = bf16 }
}
dataset d%[1]d {
  source  = "data/%[1]d.jsonl"
  format  = jsonl
  seq_len = 1024
  eval    = 5%%
}
finetune f%[1]d {
  model = m%[1]d
  data  = d%[1]d
  lora { rank = 16, alpha = 32, dropout = 0.05, targets = [q_proj, v_proj] }
  checkpointing = every(2)
  attention     = flash2
  optimizer { name = adamw, lr = var.lr, schedule = cosine, warmup = 3%% }
  batch      = 4
  grad_accum = 8
  save_every = 500 steps
}
generate g%[1]d { model = f%[1]d, prompt = "Once upon a time", max_tokens = 256, temperature = 0 }
`, i)
	}
	return b.String()
}

func TestBigProgramChecksClean(t *testing.T) {
	src := bigProgram(1000)
	prog, ds := Check("big.whisper", Options{ReadFile: func(string) ([]byte, error) { return []byte(src), nil }})
	if len(ds) != 0 || len(prog.Finetunes) < 40 || len(prog.Stages) != 2*len(prog.Finetunes) {
		t.Fatalf("%d diagnostics, %d finetunes, %d stages", len(ds), len(prog.Finetunes), len(prog.Stages))
	}
}

// BenchmarkCheck1000Lines measures parsing and checking a 1,000-line file.
func BenchmarkCheck1000Lines(b *testing.B) {
	src := []byte(bigProgram(1000))
	read := func(string) ([]byte, error) { return src, nil }
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	for b.Loop() {
		Check("big.whisper", Options{ReadFile: read})
	}
}

// BenchmarkCheckOnly1000Lines measures the checker alone on a 1,000-line
// file, the parse done once outside the loop.
func BenchmarkCheckOnly1000Lines(b *testing.B) {
	src := []byte(bigProgram(1000))
	read := func(string) ([]byte, error) { return src, nil }
	file, _ := parser.Parse("big.whisper", src)
	cached := func(string, []byte) (*ast.File, diag.Diagnostics) { return file, nil }
	b.ReportAllocs()
	for b.Loop() {
		c := newChecker(Options{ReadFile: read})
		c.parse = cached
		if _, ds := c.check([]string{"big.whisper"}); len(ds) != 0 {
			b.Fatal(ds)
		}
	}
}
