package lsp

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"go.lsp.dev/protocol"
)

// bigProgram returns a valid pipeline of at least lines lines: groups of a
// variable, a model, a dataset, a fine-tune and a generate stage, each
// group with its own names.
func bigProgram(lines int) string {
	var b strings.Builder
	b.WriteString("// A large pipeline for latency benchmarks: é 日本 😀\n")
	for g := 0; strings.Count(b.String(), "\n") < lines; g++ {
		fmt.Fprintf(&b, `
variable lr%[1]d {
  default = 2e-4
}

model base%[1]d {
  source = "hf:meta-llama/Llama-2-7b-hf"
  quantize { method = nf4, double = true, compute = bf16 }
}

dataset chat%[1]d {
  source  = "data/chat%[1]d.jsonl"
  format  = jsonl
  field   = "text"
  seq_len = 1024
  eval    = 5%%
  version = dvc
}

finetune sft%[1]d {
  model  = base%[1]d
  data   = chat%[1]d
  method = qlora
  lora { rank = 16, alpha = 32, dropout = 0.05, targets = attention }
  checkpointing = full
  attention     = flash2
  optimizer { name = adamw, lr = var.lr%[1]d, schedule = cosine, warmup = 3%% }
  batch      = 4
  grad_accum = 8
  save_every = 500 steps
}

generate story%[1]d {
  model       = sft%[1]d
  prompt      = "Once upon a time"
  max_tokens  = 64
  temperature = 0
  kv_cache    = true
}
`, g)
	}
	return b.String()
}

// BenchmarkDiagnosticsAfterChange measures, through the protocol, the time
// from an edit of a 1,000-line document to the arrival of its
// diagnostics: the debounce, parse, check, plan and publish. The target is
// under 50 ms.
func BenchmarkDiagnosticsAfterChange(b *testing.B) {
	text := bigProgram(1000)
	s := newSession(b, testOpts())
	u := testURI(b, "big.whisper")
	s.open(u, text)
	s.waitDiagnostics(u, 1)
	i := strings.Index(text, "seq_len = 1024") + len("seq_len = 102")
	digits := "0123456789"
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		v := int32(n + 2)
		text = s.edit(u, v, text, i, i+1, digits[n%10:n%10+1])
		s.waitDiagnostics(u, v)
	}
	b.ReportMetric(float64(strings.Count(text, "\n")), "lines")
}

// BenchmarkAnalyse measures one analysis of a new version of a 1,000-line
// document, without the protocol or the debounce.
func BenchmarkAnalyse(b *testing.B) { benchmarkAnalyse(b, 1000) }

// BenchmarkAnalyse5000Lines is BenchmarkAnalyse on 5,000 lines.
func BenchmarkAnalyse5000Lines(b *testing.B) { benchmarkAnalyse(b, 5000) }

func benchmarkAnalyse(b *testing.B, lines int) {
	text := bigProgram(lines)
	s := newSession(b, testOpts())
	u := testURI(b, "big.whisper")
	s.open(u, text)
	s.sync(u)
	srv := s.inner
	d, _ := srv.docs.get(u)
	cpu0, ok := processCPU()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		nd := &document{URI: d.URI, Path: d.Path, Version: int32(n + 10), File: d.File}
		if a := srv.analyse(s.ctx, nd, nil); a == nil {
			b.Fatal("analysis cancelled")
		}
	}
	// The CPU time per analysis (garbage collection included) is steadier
	// than the wall time on a machine shared with other work.
	if cpu1, ok1 := processCPU(); ok && ok1 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
	}
}

// TestBigProgramChecks keeps the benchmark honest: its input is a valid
// program of 1,000 lines, so the benchmark measures the full phases.
func TestBigProgramChecks(t *testing.T) {
	text := bigProgram(1000)
	if n := strings.Count(text, "\n"); n < 1000 {
		t.Fatalf("%d lines", n)
	}
	s := newSession(t, testOpts())
	u := testURI(t, "big.whisper")
	s.open(u, text)
	for _, d := range s.waitDiagnostics(u, 1) {
		if d.Severity == 1 {
			t.Errorf("error in the benchmark program: %v", d.Message)
		}
	}
}

// BenchmarkCompletion1000Lines measures a completion request on a new
// version of a 1,000-line document: the tolerant view only, not the phases.
func BenchmarkCompletion1000Lines(b *testing.B) {
	text := bigProgram(1000)
	s := newSession(b, testOpts())
	u := testURI(b, "big.whisper")
	s.open(u, text)
	s.waitDiagnostics(u, 1)
	i := strings.Index(text, "method = nf4") + len("method = ")
	pos := testMapper(text, s.enc).Position(i)
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		if _, err := s.server.Completion(s.ctx, &protocol.CompletionParams{TextDocumentPositionParams: s.tdpp(u, pos)}); err != nil {
			b.Fatal(err)
		}
		if n%2 == 0 { // a new version: nothing cached
			s.edit(u, int32(n+2), text, 0, 0, "")
		}
	}
}

// BenchmarkTypingBurst5000Lines types a burst of keystrokes into a
// 5,000-line document, one every 40 ms (fast typing), and measures the
// time from the last keystroke to the arrival of that version's
// diagnostics ("lag-ms"), and the CPU the server spent per burst
// ("cpu-ms/burst"): analyses superseded by a later keystroke must stop
// instead of competing with the one that matters.
func BenchmarkTypingBurst5000Lines(b *testing.B) {
	benchmarkTypingBurst(b, 5000, 10, 40*time.Millisecond)
}

// BenchmarkDiagnostics5000Lines measures one edit of a 5,000-line
// document after a quiet moment: the time to its diagnostics.
func BenchmarkDiagnostics5000Lines(b *testing.B) {
	benchmarkTypingBurst(b, 5000, 1, 0)
}

func benchmarkTypingBurst(b *testing.B, lines, keys int, every time.Duration) {
	text := bigProgram(lines)
	s := newSession(b, testOpts())
	u := testURI(b, "big.whisper")
	s.open(u, text)
	s.waitDiagnostics(u, 1)
	i := strings.Index(text, "seq_len = 1024") + len("seq_len = 102")
	digits := "123456789"
	v := int32(1)
	var lag time.Duration
	cpu0, ok := processCPU()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		for k := 0; k < keys; k++ {
			v++
			text = s.edit(u, v, text, i, i+1, digits[int(v)%9:int(v)%9+1])
			if k < keys-1 {
				time.Sleep(every)
			}
		}
		last := time.Now()
		s.waitDiagnostics(u, v)
		lag += time.Since(last)
		b.StopTimer()
		time.Sleep(300 * time.Millisecond) // a quiet moment: stray work ends
		b.StartTimer()
	}
	b.ReportMetric(float64(lag.Milliseconds())/float64(b.N), "lag-ms")
	if cpu1, ok1 := processCPU(); ok && ok1 {
		b.ReportMetric(float64(cpu1-cpu0)/float64(b.N)/1e6, "cpu-ms/burst")
	}
	b.ReportMetric(float64(strings.Count(text, "\n")), "lines")
}
