package planner

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/lang/golden"
	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/stdlib"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// check compiles a program from in-memory files (the first is the root).
func check(t testing.TB, files map[string]string, root string) *compiler.Program {
	t.Helper()
	prog, ds := compiler.Check(root, compiler.Options{ReadFile: func(p string) ([]byte, error) {
		if s, ok := files[filepath.Base(p)]; ok {
			return []byte(s), nil
		}
		return os.ReadFile(p)
	}})
	if ds.HasErrors() {
		t.Fatalf("%s does not check:\n%s", root, diag.Text(prog.Files, ds))
	}
	return prog
}

func checkFile(t testing.TB, path string) *compiler.Program {
	t.Helper()
	prog, ds := compiler.Check(path, compiler.Options{})
	if ds.HasErrors() {
		t.Fatalf("%s does not check:\n%s", path, diag.Text(prog.Files, ds))
	}
	return prog
}

func TestQLoRAPlan(t *testing.T) {
	prog := checkFile(t, "testdata/qlora.whisper")
	p, ds := Build(prog, nil, Options{})
	if len(ds) != 0 {
		t.Errorf("unexpected diagnostics:\n%s", diag.Text(prog.Files, ds))
	}
	var ids []string
	for _, s := range p.Stages {
		ids = append(ids, s.ID)
	}
	want := []string{"load.base", "quantize.base", "attach_adapters.sft", "train.sft", "evaluate.sft", "generate.smoke"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("stages (-want +got):\n%s", diff)
	}
	if !p.Fits || p.Target.Name != "rtx4090" || p.Model == nil || p.Model.Params != 6_738_415_616 {
		t.Errorf("plan = fits %v, target %q, model %+v", p.Fits, p.Target.Name, p.Model)
	}
	tr := p.Stage("train.sft")
	if d := tr.Decision("attention"); d == nil || d.Choice != "flash2" || d.Requested != "auto" || d.Rule != "ML006" {
		t.Errorf("attention decision %+v", d)
	}
	ck := tr.Decision("checkpointing")
	if ck == nil || ck.Choice != "full" || ck.SavesBytes <= 10<<30 || ck.ExtraCompute < 0.45 || ck.ExtraCompute > 0.55 {
		t.Errorf("checkpointing decision %+v: LoRA's recompute adds one forward to two", ck)
	}
	if q := tr.Decision("quantization"); q == nil || q.SavesBytes < 8<<30 {
		t.Errorf("quantization decision %+v", q)
	}
	m := tr.Memory
	if m == nil || !m.Fits || m.TotalBytes < 6<<30 || m.TotalBytes > 12<<30 || m.CapacityBytes != 24<<30 {
		t.Fatalf("train memory %+v", m)
	}
	var sum int64
	for _, c := range m.Components {
		sum += c.Bytes
	}
	if sum != m.TotalBytes {
		t.Errorf("components add to %d, total %d", sum, m.TotalBytes)
	}
	g := tr.Graph
	if len(g.Layers) != 32 || !g.Layers[7].Checkpoint || g.Layers[0].Attention != cost.Flash2 {
		t.Fatalf("graph %+v", g.Layers[0])
	}
	adapters := 0
	for _, l := range g.Layers[0].Linears {
		if l.Weight != cost.NF4 || l.Kernel != KernelQuantMatMul || l.Compute != cost.BF16 || l.BlockSize != 64 {
			t.Errorf("linear %+v", l)
		}
		if l.Adapter != nil {
			adapters++
			if l.Adapter.Rank != 16 || l.Adapter.Alpha != 32 {
				t.Errorf("adapter %+v", l.Adapter)
			}
		}
	}
	if adapters != 4 {
		t.Errorf("%d adapters per layer, want q,k,v,o", adapters)
	}
	if tr.Time == nil || tr.Time.Steps != 1000 || tr.Time.Seconds <= 0 {
		t.Errorf("time %+v", tr.Time)
	}
	gen := p.Stage("generate.smoke")
	if gen.Graph.KVCache == nil || gen.Graph.KVCache.KVHeads != 32 || gen.Graph.Layers[0].Linears[0].Adapter != nil {
		t.Errorf("generate graph: %+v", gen.Graph.KVCache)
	}
	if !strings.HasPrefix(p.Summary, "Plan: fits: peak") {
		t.Errorf("summary %q", p.Summary)
	}
}

// TestPlanText is a golden test of the text rendering; run with -update
// after an intended change.
func TestPlanText(t *testing.T) {
	prog := checkFile(t, "testdata/qlora.whisper")
	p, _ := Build(prog, nil, Options{})
	var buf bytes.Buffer
	if err := p.WriteText(&buf, prog.Files); err != nil {
		t.Fatal(err)
	}
	golden.Compare(t, "testdata/qlora.plan.txt", buf.String(), *update)
}

func TestPlanJSONRoundTrip(t *testing.T) {
	prog := checkFile(t, "testdata/qlora.whisper")
	p, _ := Build(prog, nil, Options{})
	var buf bytes.Buffer
	if err := p.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"format_version": "2"`, `"target":`, `"model":`, `"stages":`, `"decisions":`,
		`"total_bytes":`, `"capacity_bytes":`, `"fits": true`, `"components":`, `"diagnostics": []`} {
		if !strings.Contains(buf.String(), key) {
			t.Errorf("plan JSON lacks %s", key)
		}
	}
	back, err := ReadJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, back); diff != "" {
		t.Errorf("round trip (-built +read):\n%s", diff)
	}
	for _, bad := range []string{`{"format_version": "0"}`, `not json`, `{"format_version": "2", "stages": 3}`} {
		if _, err := ReadJSON(strings.NewReader(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSavedPlanChanges(t *testing.T) {
	dir := t.TempDir()
	src, _ := os.ReadFile("testdata/qlora.whisper")
	root := filepath.Join(dir, "p.whisper")
	os.WriteFile(root, src, 0o644)
	prog := checkFile(t, root)
	p, _ := Build(prog, nil, Options{})
	out := filepath.Join(dir, "plan.json")
	if err := p.Save(out, prog, nil); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if ch, err := loaded.Changes(prog, nil); err != nil || len(ch) != 0 {
		t.Errorf("fresh plan reports changes %v, %v", ch, err)
	}
	os.WriteFile(root, bytes.Replace(src, []byte("batch = 4"), []byte("batch = 2"), 1), 0o644)
	prog2 := checkFile(t, root)
	ch, _ := loaded.Changes(prog2, nil)
	if len(ch) != 1 || !strings.Contains(ch[0], "p.whisper changed") {
		t.Errorf("changes = %v", ch)
	}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		spec, name string
		count      int
	}{
		{"a100-80gb", "a100-80gb", 1},
		{"h100-80gb*8", "h100-80gb", 8},
		{"RTX4090-24GB", "rtx4090", 1},
		{"h100 * 2", "h100-80gb", 2},
	} {
		tg, ds := ParseTarget(tc.spec, nil)
		if len(ds) != 0 || tg.Profile.Name != tc.name || tg.Count != tc.count {
			t.Errorf("ParseTarget(%q) = %+v, %v", tc.spec, tg, ds)
		}
	}
	tg, _ := ParseTarget("h100-80gb*8", nil)
	if tg.Name() != "h100-80gb*8" {
		t.Errorf("Name = %q", tg.Name())
	}
	for _, tc := range []struct{ spec, want string }{
		{"a100-80", `error[P102]: unknown target "a100-80"`},
		{"a100-80", `Did you mean "a100-80gb"?`},
		{"h100-80gb*0", "error[P103]"},
		{"h100-80gb*lots", "error[P103]"},
		{"", "error[P102]: empty --target"},
		{"missing/file.hcl", "cannot read target profile file"},
	} {
		_, ds := ParseTarget(tc.spec, nil)
		if got := diag.Text(nil, ds); !strings.Contains(got, tc.want) {
			t.Errorf("ParseTarget(%q):\n%s\nwant %q", tc.spec, got, tc.want)
		}
	}
	file := "target \"lab\" {\n  device = \"gpu\"\n  memory_mib = 49152\n  bandwidth_gbs = 960\n  compute_capability = \"8.6\"\n  bf16 = true\n  peak_tflops {\n    fp32 = 38.7\n    bf16 = 154.8\n  }\n  source = \"RTX A6000 data sheet\"\n}\n"
	read := func(string) ([]byte, error) { return []byte(file), nil }
	tg, ds := ParseTarget("lab/a6000.hcl*2", read)
	if len(ds) != 0 || tg.Profile.Name != "lab" || tg.Count != 2 || tg.Profile.MemoryBytes != 48<<30 || tg.Source != "lab/a6000.hcl" {
		t.Errorf("file target = %+v, %v", tg, ds)
	}
}

// TestExamplesPlan plans every example of the repository on its own
// target (where it must fit) and on every built-in target, one of them
// eight-way: no internal errors, every stage of the program present,
// memory components adding up.
func TestExamplesPlan(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.whisper")
	more, _ := filepath.Glob("../examples/*/main.whisper")
	files = append(files, more...)
	if len(files) == 0 {
		t.Skip("no examples")
	}
	targets := []*Target{nil}
	for _, name := range append(stdlib.TargetNames(), "h100-80gb*8") {
		tg, tds := ParseTarget(name, nil)
		if tds.HasErrors() {
			t.Fatalf("target %s: %v", name, tds)
		}
		targets = append(targets, tg)
	}
	for _, f := range files {
		prog, ds := compiler.Check(f, compiler.Options{})
		if prog == nil || ds.HasErrors() {
			continue // the checker's tests own these
		}
		for _, tg := range targets {
			p, pds := Build(prog, tg, Options{})
			if tg == nil && absentModelFile(pds) {
				// An example naming a model file that is not in the
				// repository (gguf-ollama's GGUF) must refuse to plan,
				// never claim to fit.
				if strings.HasPrefix(p.Summary, "Plan: fits") {
					t.Errorf("%s: says it fits without its model: %s", f, p.Summary)
				}
			} else if tg == nil && (!p.Fits || pds.HasErrors()) {
				t.Errorf("%s does not plan clean on its own target: %s\n%s", f, p.Summary, diag.Text(prog.Files, pds))
			}
			for _, d := range pds {
				if d.Code == "P199" {
					t.Errorf("%s: %s", f, diag.Text(prog.Files, diag.Diagnostics{d}))
				}
			}
			for _, st := range prog.Stages {
				name := st.StageDecl().Name
				found := false
				for _, s := range p.Stages {
					found = found || s.Decl == name
				}
				if !found {
					t.Errorf("%s: stage %s missing from the plan", f, name)
				}
			}
			for _, s := range p.Stages {
				if s.Memory == nil {
					continue
				}
				var sum int64
				for _, c := range s.Memory.Components {
					sum += c.Bytes
				}
				if sum != s.Memory.TotalBytes || sum <= 0 {
					t.Errorf("%s %s: components %d, total %d", f, s.ID, sum, s.Memory.TotalBytes)
				}
			}
		}
	}
}

// TestDurationFromDatasetSize: without max_steps the steps come from the
// dataset file's size at four bytes per token.
func TestDurationFromDatasetSize(t *testing.T) {
	dir := t.TempDir()
	// 8 MiB of data, 5% held out: 8·2^20/4 · 0.95 tokens; 2 epochs of
	// 4 × 8 × 1024 tokens per step → ceil(2 · 1,992,294.4 / 32,768) = 122.
	os.WriteFile(filepath.Join(dir, "chat.jsonl"), bytes.Repeat([]byte("x"), 8<<20), 0o644)
	src, _ := os.ReadFile("testdata/qlora.whisper")
	src = bytes.Replace(src, []byte("max_steps = 1000"), []byte("epochs = 2"), 1)
	os.WriteFile(filepath.Join(dir, "p.whisper"), src, 0o644)
	prog := checkFile(t, filepath.Join(dir, "p.whisper"))
	p, _ := Build(prog, nil, Options{})
	tm := p.Stage("train.sft").Time
	if tm.Steps != 122 || tm.Seconds != tm.StepSeconds*122 || !strings.Contains(tm.Assumption, "estimated from the dataset") {
		t.Errorf("time %+v", tm)
	}
}

// TestServePlan: a server's KV cache holds max_batch full contexts; its
// prefill runs one chunk at a time.
func TestServePlan(t *testing.T) {
	src := "model m { source = \"hf:meta-llama/Llama-2-7b-hf\" }\nserve api { model = m, max_batch = 8 }\n" +
		"track { backend = jsonl, log = [config, model_hash, commit, hardware, metrics] }\n"
	prog := check(t, map[string]string{"main.whisper": src}, "main.whisper")
	tg, _ := ParseTarget("h100-80gb", nil)
	p, ds := Build(prog, tg, Options{})
	s := p.Stage("serve.api")
	if len(ds) != 0 || s == nil || s.Memory == nil {
		t.Fatalf("%v %+v", ds, s)
	}
	var kv int64
	for _, c := range s.Memory.Components {
		if c.Name == "kv_cache" {
			kv = c.Bytes
		}
	}
	if want := int64(2 * 32 * 4096 * 4096 * 8 * 2); kv != want || s.Graph.KVCache.Bytes != want || s.Graph.KVCache.Batch != 8 {
		t.Errorf("kv cache %d (graph %+v), want %d", kv, s.Graph.KVCache, want)
	}
	if !s.Memory.Fits || s.Memory.TotalBytes > 40<<30 || s.Time.Seconds != 0 || s.Time.TokensPerSecond <= 0 {
		t.Errorf("memory %+v time %+v", s.Memory, s.Time)
	}
}

// absentModelFile reports whether every error of ds is P132 for a file
// that does not exist.
func absentModelFile(ds diag.Diagnostics) bool {
	errs := ds.Errs()
	for _, d := range errs {
		if d.Code != "P132" || !strings.Contains(d.Detail, "no such file or directory") {
			return false
		}
	}
	return len(errs) > 0
}

// TestCheckpointAddressPlan checks that a stage using a recorded
// checkpoint (`model = "sft@step12"`) is planned like the finetune's
// output, after the finetune when the pipeline runs every stage, and
// without it when the pipeline lists stages that do not include it.
func TestCheckpointAddressPlan(t *testing.T) {
	src, err := os.ReadFile("testdata/qlora.whisper")
	if err != nil {
		t.Fatal(err)
	}
	base := strings.Replace(string(src), "generate smoke { model = sft,", "generate smoke { model = \"sft@step12\",", 1)
	if base == string(src) {
		t.Fatal("testdata/qlora.whisper no longer has `generate smoke { model = sft,` to address")
	}
	for _, c := range []struct {
		name, extra string
		want        []string
	}{
		{"every stage", "", []string{"load.base", "quantize.base", "attach_adapters.sft", "train.sft", "evaluate.sft", "generate.smoke"}},
		{"listed", "pipeline p { stages = [smoke] }\n", []string{"load.base", "quantize.base", "generate.smoke"}},
	} {
		prog := check(t, map[string]string{"a.whisper": base + c.extra}, filepath.Join("testdata", "a.whisper"))
		p, ds := Build(prog, nil, Options{})
		if ds.HasErrors() {
			t.Fatalf("%s:\n%s", c.name, diag.Text(prog.Files, ds))
		}
		var ids []string
		for _, s := range p.Stages {
			ids = append(ids, s.ID)
		}
		if diff := cmp.Diff(c.want, ids); diff != "" {
			t.Errorf("%s: stages (-want +got):\n%s", c.name, diff)
		}
		g := p.Stage("generate.smoke")
		if d := g.Decision("model"); d == nil || d.Choice != "sft@step12" || !strings.Contains(d.Effect, "step 12 of the latest succeeded run") {
			t.Errorf("%s: model decision %+v", c.name, d)
		}
		if len(c.extra) == 0 && !slices.Contains(g.After, "train.sft") {
			t.Errorf("%s: generate should run after train.sft, runs after %v", c.name, g.After)
		}
	}
}

// TestExampleCommentsStateNoSizes keeps memory figures out of the
// examples' comments: the plan computes them, and a figure written by hand
// drifts from it (issue 13 found three that disagreed with their own plan).
func TestExampleCommentsStateNoSizes(t *testing.T) {
	files, _ := filepath.Glob("../examples/*.whisper")
	more, _ := filepath.Glob("../examples/*/*.whisper")
	files = append(files, more...)
	if len(files) == 0 {
		t.Fatal("no examples found")
	}
	size := regexp.MustCompile(`(?i)\d+(\.\d+)?\s*(k|m|g|t)i?b\b`)
	// A device's capacity ("a 24 GB L4") names the hardware, not a figure
	// the plan computes.
	device := regexp.MustCompile(`\d+ GB (card|GPU|L4|A10G|A100|H100)\b`)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(src), "\n") {
			_, comment, ok := strings.Cut(line, "//")
			if !ok {
				continue
			}
			comment = device.ReplaceAllString(comment, "")
			if m := size.FindString(comment); m != "" {
				t.Errorf("%s:%d: the comment states a size (%q); let the plan state it", f, i+1, m)
			}
		}
	}
}

// TestClassifierFormat checks the classifier's format under
// quantisation: on the CPU the graph stores lm_head in Q8_0 whatever the
// layers use, the decision says so and the memory counts the copy; on a
// GPU it stays in the compute type, as bitsandbytes leaves it.
func TestClassifierFormat(t *testing.T) {
	for _, method := range []string{"nf4", "q8_0"} {
		src := "model m {\n  source = \"hf:meta-llama/Llama-2-7b-hf\"\n  quantize { method = " + method + " }\n}\n" +
			"generate g {\n  model = m\n  prompt = \"hi\"\n  max_tokens = 8\n}\n"
		prog := check(t, map[string]string{"main.whisper": src}, "main.whisper")
		for _, target := range []string{"cpu", "h100-80gb"} {
			tg, _ := ParseTarget(target, nil)
			p, _ := Build(prog, tg, Options{})
			g := p.Stage("generate.g")
			if g == nil || g.Graph == nil {
				t.Fatalf("%s %s: no generate graph", method, target)
			}
			d := g.Decision("classifier")
			h := g.Graph.Head
			layer := g.Graph.Layers[0].Linears[0]
			if target == "cpu" {
				if h.Weight != cost.Q8_0 || h.Kernel != KernelQuantMatMul || d == nil || d.Choice != "q8_0" || !strings.Contains(d.Effect, "llama.cpp") {
					t.Errorf("%s on the CPU: head %s by %s, decision %+v; want q8_0", method, h.Weight, h.Kernel, d)
				}
				if layer.Weight.String() != method {
					t.Errorf("%s on the CPU: layers stored as %s", method, layer.Weight)
				}
			} else if h.Weight == cost.Q8_0 || h.Kernel != KernelMatMul || d == nil || !strings.Contains(d.Effect, "bitsandbytes") {
				t.Errorf("%s on a GPU: head %s by %s, decision %+v; want it unquantised", method, h.Weight, h.Kernel, d)
			}
		}
	}
}

// TestFloorLine checks the CPU plan's line on the process's floor: the
// executable's share and the floor against the weights and KV cache, from
// the memory's components; and no line for a plan without them.
func TestFloorLine(t *testing.T) {
	m := &DeviceMemory{Components: []cost.Component{
		{Name: "executable", Bytes: 24 << 20}, {Name: "process", Bytes: 8 << 20},
		{Name: "weights_mapped", Bytes: 58 << 20}, {Name: "kv_cache", Bytes: 6 << 20}, {Name: "gc_headroom", Bytes: 4 << 20}}}
	got := floorLine(m)
	for _, want := range []string{"32 MiB", "the executable's pages 24 MiB", "50% of the 64 MiB of weights and KV cache"} {
		if !strings.Contains(got, want) {
			t.Errorf("floor line %q lacks %q", got, want)
		}
	}
	if got := floorLine(&DeviceMemory{Components: []cost.Component{{Name: "weights", Bytes: 1 << 30}, {Name: "cuda_context", Bytes: 500 << 20}}}); got != "" {
		t.Errorf("a GPU plan got a floor line %q", got)
	}
}
