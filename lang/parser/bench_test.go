package parser

import (
	"fmt"
	"strings"
	"testing"
)

// benchProgram returns a valid program of at least n lines in the shape of
// a real pipeline file: models, datasets, finetunes and generates with
// every kind of value (quantities, lists, calls, references, nested and
// one-line blocks, comments).
func benchProgram(n int) []byte {
	var b strings.Builder
	b.WriteString("// A generated pipeline.\nvariable lr { default = 2e-4 }\ntrack { backend = tensorboard }\nversion { data = dvc, checkpoints = dvc }\n")
	lines := 4
	for i := 0; lines < n; i++ {
		s := fmt.Sprintf(`model m%[1]d {
  source    = "hf:org/model-%[1]d"
  tokenizer = "tok/%[1]d.model"
  quantize { method = nf4, double = true, compute = bf16 }
}
# dataset number %[1]d
dataset d%[1]d {
  source  = "data/%[1]d.jsonl"
  format  = jsonl
  seq_len = 1_024
  eval    = 5%%
}
finetune f%[1]d {
  model = m%[1]d
  data  = d%[1]d
  lora { rank = 16, alpha = 2 * 16, dropout = 0.05, targets = [q_proj, v_proj] }
  checkpointing = every(2)
  attention     = flash2 /* the fast kernel */
  optimizer { name = adamw, lr = var.lr, schedule = cosine, warmup = 3%% }
  batch      = 4
  grad_accum = (8)
  save_every = 500 steps
  enabled    = !false && 1 <= 2 || -1 > 0
}
generate g%[1]d { model = f%[1]d, prompt = "Once upon a \"time\"", max_tokens = 256, temperature = 0 }
`, i)
		b.WriteString(s)
		lines += strings.Count(s, "\n")
	}
	return []byte(b.String())
}

func TestBenchProgramParsesClean(t *testing.T) {
	src := benchProgram(1000)
	f, ds := Parse("big.whisper", src)
	if len(ds) != 0 {
		t.Fatal(ds)
	}
	if len(f.Items) < 4*38 {
		t.Fatalf("%d items", len(f.Items))
	}
}

func benchmarkParse(b *testing.B, lines int) {
	src := benchProgram(lines)
	b.SetBytes(int64(len(src)))
	b.ReportAllocs()
	cpu0, ok := processCPU()
	n := 0
	for b.Loop() {
		n++
		if _, ds := Parse("big.whisper", src); len(ds) != 0 {
			b.Fatal(ds)
		}
	}
	// The CPU time per parse (garbage collection included) is steadier
	// than the wall time on a machine shared with other work.
	if cpu1, ok1 := processCPU(); ok && ok1 && n > 0 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(n)/1e6, "cpu-ms/op")
	}
}

// BenchmarkParse1000Lines measures parsing a valid 1,000-line file, the
// size the language server must re-parse within its latency budget.
func BenchmarkParse1000Lines(b *testing.B) { benchmarkParse(b, 1000) }

// BenchmarkParse10000Lines measures a 10,000-line file: compared with
// BenchmarkParse1000Lines it shows whether parsing scales linearly.
func BenchmarkParse10000Lines(b *testing.B) { benchmarkParse(b, 10000) }
