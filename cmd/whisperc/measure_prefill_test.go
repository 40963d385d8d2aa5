package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// prefillRow is one line of the prompt-prefill memory table.
type prefillRow struct {
	Model        string `json:"model"`
	Format       string `json:"format"`
	Compile      string `json:"compile"`
	PromptTokens int    `json:"prompt_tokens"`
	Tokens       int    `json:"tokens"`
	FileBytes    int64  `json:"file_bytes"`
	PredictedRSS int64  `json:"predicted_peak_rss"`
	MeasuredRSS  int64  `json:"measured_peak_rss"`
	// Prefill is the plan's prefill component (0 when the decode steps'
	// headroom is the larger).
	Prefill int64 `json:"predicted_prefill_bytes"`
}

// prefillWords makes a prompt of n distinct made-up words (two to four
// syllables each), so that its tokens are varied the way prose's are: a
// quantised model's embedding rows are looked up one per distinct token.
func prefillWords(n int) string {
	cons := []string{"b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z"}
	vows := []string{"a", "e", "i", "o", "u"}
	words := make([]string, n)
	for i := range words {
		var b strings.Builder
		x := i*7919 + 13
		for s := 0; s < 2+i%3; s++ {
			b.WriteString(cons[x%len(cons)])
			b.WriteString(vows[(x/len(cons))%len(vows)])
			x = x/3 + 17*s + 5
		}
		words[i] = b.String()
	}
	return strings.Join(words, " ")
}

// prefillPrompt returns the longest prompt of prefillWords that tok
// encodes, BOS included, in at most n tokens.
func prefillPrompt(tok *tokenizer.BPE, n int) string {
	lo, hi := 0, 4*n
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if len(tok.Encode(prefillWords(mid), true, false)) <= n {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return prefillWords(lo)
}

// TestMeasurePrefill measures the peak resident memory of generations
// whose prompt is long (the prompt's one multi-row pass) against the plan,
// for the 15M and 42M shapes (random weights) under each compile mode, and
// writes the table to the file named by WHISPERC_MEASURE_PREFILL
// (planner/testdata/measured/prefill-cpu-*.json, checked by planner/cost's
// TestMeasuredCPUPrefill). It runs only when that variable is set: about a
// minute.
func TestMeasurePrefill(t *testing.T) {
	out := os.Getenv("WHISPERC_MEASURE_PREFILL")
	if out == "" {
		t.Skip("set WHISPERC_MEASURE_PREFILL=path.json to measure long prompts' peak memory against the plan")
	}
	tokPath, err := filepath.Abs("../../../shared/models/llama2c-tokenizer32k.bin")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenizer.ReadLlama2CFile(tokPath, 32000)
	if err != nil {
		t.Fatalf("the 32k tokenizer: %v", err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "whisperc")
	if b, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	uncache(t, bin)
	// The plans use the calibration of the committed CPU table, which this
	// table's rates record.
	ratesFile := filepath.Join(dir, "rates.json")
	var cpu struct {
		Rates json.RawMessage `json:"rates"`
	}
	data, err := os.ReadFile("../../planner/testdata/measured/cpu-amd-epyc-2vcpu.json")
	if err == nil {
		err = json.Unmarshal(data, &cpu)
	}
	if err != nil || len(cpu.Rates) == 0 {
		t.Fatalf("the CPU table's rates: %v", err)
	}
	if err := os.WriteFile(ratesFile, cpu.Rates, 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "WHISPERC_CPU_RATES="+ratesFile)
	cases := []struct {
		shape, format, compile string
		tokens                 int // the prompt's, BOS included, at most
	}{
		{"15M", "fp32", "default", 2}, {"15M", "fp32", "default", 64}, {"15M", "fp32", "default", 128}, {"15M", "fp32", "default", 230},
		{"15M", "fp32", "none", 230}, {"15M", "fp32", "reduce_overhead", 230}, {"15M", "q8_0", "default", 230}, {"15M", "nf4", "default", 230},
		{"42M", "fp32", "default", 500}, {"42M", "fp32", "none", 500}, {"42M", "fp32", "reduce_overhead", 500},
	}
	var rows []prefillRow
	models := map[string]string{}
	for _, c := range cases {
		model, ok := models[c.shape]
		if !ok {
			for _, s := range measuredShapes {
				if s.Name != c.shape {
					continue
				}
				model = filepath.Join(dir, s.Name+".bin")
				f, err := os.Create(model)
				if err != nil {
					t.Fatal(err)
				}
				bw := bufio.NewWriter(f)
				if err := llama2c.Write(bw, weights.Random(s, 42), 0); err != nil {
					t.Fatal(err)
				}
				if err := bw.Flush(); err != nil {
					t.Fatal(err)
				}
				f.Close()
				uncache(t, model)
			}
			models[c.shape] = model
		}
		prompt := prefillPrompt(tok, c.tokens)
		q := ""
		if c.format != "fp32" {
			q = "  quantize { method = " + c.format + " }\n"
		}
		const gen = 20
		src := fmt.Sprintf("model m {\n  source = \"llama2c:%s\"\n  tokenizer = \"%s\"\n%s}\n"+
			"generate g {\n  model = m\n  prompt = %q\n  max_tokens = %d\n  temperature = 0\n  ignore_eos = true\n  kv_cache = true\n  compile = %s\n}\n"+trackMetrics,
			model, tokPath, q, prompt, gen, c.compile)
		name := fmt.Sprintf("%s %s %s %d tokens", c.shape, c.format, c.compile, c.tokens)
		wf := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".whisper")
		g := planGenerate(t, bin, env, wf, src, name)
		hwm, _, _, _ := measureRuns(t, bin, env, wf, name)
		st, _ := os.Stat(model)
		row := prefillRow{Model: c.shape, Format: c.format, Compile: c.compile, PromptTokens: len(tok.Encode(prompt, true, false)), Tokens: gen,
			FileBytes: st.Size(), PredictedRSS: g.Memory.TotalBytes, MeasuredRSS: hwm}
		for _, comp := range g.Memory.Components {
			if comp.Name == "prefill" {
				row.Prefill = comp.Bytes
			}
		}
		t.Logf("%-36s %4d prompt tokens  RSS plan %6.1f MiB run %6.1f MiB (%+5.1f%%)", name, row.PromptTokens,
			float64(row.PredictedRSS)/(1<<20), float64(row.MeasuredRSS)/(1<<20), 100*(float64(row.PredictedRSS)/float64(row.MeasuredRSS)-1))
		rows = append(rows, row)
	}
	doc := map[string]any{
		"what":  "whisperc plan vs whisperc run: peak RSS (VmHWM of the run process, from its manifest: the largest of its peak before the first stage and its stages', and of \"runs\" runs) of generations of 20 tokens after prompts of made-up words (varied tokens), random-weight llama2.c models, KV cache; the plans use the rates of cpu-amd-epyc-2vcpu.json, recorded here",
		"date":  time.Now().UTC().Format(time.RFC3339),
		"runs":  measureRunCount(t),
		"rates": cpu.Rates,
		"rows":  rows,
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
