//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"
)

// trainConfig is one measured training run.
type trainConfig struct {
	Model         string   `json:"model"`  // 260K, 15M or 42M
	Method        string   `json:"method"` // lora, full or qlora
	Quant         string   `json:"quant,omitempty"`
	Precision     string   `json:"precision,omitempty"` // bf16: the block linears stored in bf16 (LoRA's frozen base, or trained in bf16 by full); fp32 when empty
	Checkpointing string   `json:"checkpointing"`
	Optimizer     string   `json:"optimizer"`
	Seq           int      `json:"seq_len"`
	Batch         int      `json:"batch"`
	Steps         int      `json:"max_steps"`
	Rank          int      `json:"rank,omitempty"`
	Targets       []string `json:"targets,omitempty"`
	Dropout       float64  `json:"dropout,omitempty"`
	Attention     string   `json:"attention"`
}

// trainRow is a configuration with what the plan predicted and what the
// run measured.
type trainRow struct {
	trainConfig
	FileBytes      int64            `json:"file_bytes"`
	TokenizerBytes int64            `json:"tokenizer_file_bytes"`
	DataBytes      int64            `json:"data_file_bytes"`
	Predicted      int64            `json:"predicted_total"`
	Components     map[string]int64 `json:"predicted_components"`
	Measured       []int64          `json:"measured_peak_rss"`
	Seconds        float64          `json:"seconds"`
}

type trainDoc struct {
	What      string         `json:"what"`
	Command   string         `json:"command"`
	Machine   map[string]any `json:"machine"`
	Date      string         `json:"date"`
	Note      string         `json:"note"`
	BaseBytes int64          `json:"base_bytes"`
	Rows      []trainRow     `json:"rows"`
}

// trainMem measures the peak resident memory (the child's maximum RSS,
// which is its VmHWM) of `whisperc run` on fine-tunes of the real
// stories260K and random 15M- and 42M-shaped llama2.c models: for LoRA,
// full and QLoRA (nf4) with and without checkpointing and selective, each
// optimizer on full fine-tuning, LoRA over a bf16 base and full fine-tuning
// in bf16 (260K and 15M; 260K also with checkpointing full),
// and LoRA and full fine-tuning of 42M; beside `whisperc plan`'s
// prediction. It writes them as planner/testdata/measured/train-cpu-*.json,
// which planner/cost's TestMeasuredCPUTrain re-predicts. Each row's
// .whisper source is a function of its configuration (trainWhisper), so
// -merge re-plans earlier rows from the JSON alone.
func trainMem(args []string) error {
	fs := flag.NewFlagSet("trainmem", flag.ExitOnError)
	whisperc := fs.String("whisperc", "", "the whisperc binary to measure (go build -o DIR/whisperc ./cmd/whisperc)")
	models := fs.String("models", "../shared/models", "folder with stories260K.bin, tok512.bin and llama2c-tokenizer32k.bin")
	dir := fs.String("dir", "", "work folder; must hold 15M.bin and 42M.bin (go run ./runtime/bench gen -shape 15M -dir DIR; the same for 42M)")
	data := fs.String("data", "examples/data/stories.jsonl", "jsonl training data with a text field")
	out := fs.String("out", "", "the JSON file to write (stdout when empty)")
	repeat := fs.Int("repeat", 1, "runs per configuration")
	only := fs.String("only", "", "measure only the configurations whose name (MODEL-METHOD-CHECKPOINTING-OPTIMIZER) matches this regular expression")
	note := fs.String("note", "", "a note on the machine's load while measuring")
	merge := fs.String("merge", "", "an earlier output: keep its rows (re-planned with -whisperc) except those measured now")
	fs.Parse(args)
	if *whisperc == "" || *dir == "" {
		return fmt.Errorf("set -whisperc and -dir")
	}
	sel, err := regexp.Compile(*only)
	if err != nil {
		return fmt.Errorf("-only: %v", err)
	}
	abs := func(p string) string { a, _ := filepath.Abs(p); return a }
	wc, md, wd, dd := abs(*whisperc), abs(*models), abs(*dir), abs(*data)
	all := []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
	var cfgs []trainConfig
	for _, m := range []string{"260K", "15M", "42M"} {
		seq, batch, steps := 128, 4, 6
		if m != "260K" {
			seq, batch, steps = 256, 1, 2
		}
		if m == "42M" {
			// Two rows: the largest shape's memory costs minutes per run.
			for _, method := range []string{"lora", "full"} {
				c := trainConfig{Model: m, Method: method, Checkpointing: "none", Optimizer: "adamw", Seq: seq, Batch: batch, Steps: steps, Attention: "eager"}
				if method == "lora" {
					c.Rank, c.Targets = 16, all
				}
				cfgs = append(cfgs, c)
			}
			continue
		}
		cfgs = append(cfgs, trainConfig{Model: m, Method: "lora", Precision: "bf16", Checkpointing: "none", Optimizer: "adamw", Seq: seq, Batch: batch, Steps: steps, Attention: "eager", Rank: 16, Targets: all},
			trainConfig{Model: m, Method: "full", Precision: "bf16", Checkpointing: "none", Optimizer: "adamw", Seq: seq, Batch: batch, Steps: steps, Attention: "eager"},
			trainConfig{Model: m, Method: "lora", Checkpointing: "selective", Optimizer: "adamw", Seq: seq, Batch: batch, Steps: steps, Attention: "eager", Rank: 16, Targets: all})
		if m == "260K" {
			// bf16 full fine-tuning whose blocks are recomputed.
			cfgs = append(cfgs, trainConfig{Model: m, Method: "full", Precision: "bf16", Checkpointing: "full", Optimizer: "adamw", Seq: seq, Batch: batch, Steps: steps, Attention: "eager"})
		}
		for _, method := range []string{"lora", "full", "qlora"} {
			for _, ck := range []string{"none", "full"} {
				c := trainConfig{Model: m, Method: method, Checkpointing: ck, Optimizer: "adamw", Seq: seq, Batch: batch, Steps: steps, Attention: "eager"}
				if method != "full" {
					c.Rank, c.Targets = 16, all
				}
				if method == "qlora" {
					c.Quant = "nf4"
				}
				cfgs = append(cfgs, c)
			}
		}
		for _, opt := range []string{"sgd", "adamw_8bit"} {
			cfgs = append(cfgs, trainConfig{Model: m, Method: "full", Checkpointing: "none", Optimizer: opt, Seq: seq, Batch: batch, Steps: steps, Attention: "eager"})
		}
	}
	doc := trainDoc{
		What: "whisperc plan (train stage memory total, target cpu) vs whisperc run: peak RSS (the child's maximum resident set, VmHWM) of finetune runs, fp32; " +
			"260K = stories260K.bin + tok512.bin; 15M = weights.Random(15M shape, 1) as llama2.c (runtime/bench gen) + llama2c-tokenizer32k.bin; data " + *data + "; lora = rank 16, alpha 32, every projection; qlora = the same over an nf4 base (double quantisation)",
		Command: "go run ./runtime/bench " + strings.Join(os.Args[2:], " "),
		Machine: map[string]any{"cpu": cpuModel(), "usable_cpus": runtime.NumCPU(), "go": runtime.Version()},
		Date:    time.Now().UTC().Format("2006-01-02"),
		Note:    *note,
	}
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			return 0
		}
		return fi.Size()
	}
	measured := map[string]bool{}
	// source writes c's .whisper file into the work folder and returns its
	// path, the model's and the tokenizer's.
	source := func(c trainConfig) (file, model, tok string, err error) {
		model, tok = filepath.Join(md, "stories260K.bin"), filepath.Join(md, "tok512.bin")
		if c.Model != "260K" {
			model, tok = filepath.Join(wd, c.Model+".bin"), filepath.Join(md, "llama2c-tokenizer32k.bin")
		}
		file = filepath.Join(wd, c.name()+".whisper")
		err = os.WriteFile(file, []byte(trainWhisper(c, model, tok, dd, filepath.Join(wd, "out-"+c.name()))), 0o644)
		return file, model, tok, err
	}
	for _, c := range cfgs {
		name := c.name()
		if !sel.MatchString(name) {
			continue
		}
		outDir := filepath.Join(wd, "out-"+name)
		file, model, tok, err := source(c)
		if err != nil {
			return err
		}
		row := trainRow{trainConfig: c, FileBytes: size(model), TokenizerBytes: size(tok), DataBytes: size(dd)}
		if err := planRow(wc, file, &row); err != nil {
			return fmt.Errorf("%s: %v", name, err)
		}
		doc.BaseBytes = row.Components["process"]
		for range *repeat {
			os.RemoveAll(outDir) // a run over an earlier checkpoint would resume
			cmd := exec.Command(wc, "run", file)
			var stderr strings.Builder
			cmd.Stderr = &stderr
			start := time.Now()
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("%s: run: %v\n%s", name, err, stderr.String())
			}
			ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			if !ok {
				return fmt.Errorf("no resource usage on this system")
			}
			row.Measured = append(row.Measured, ru.Maxrss*1024)
			row.Seconds = time.Since(start).Seconds()
		}
		os.RemoveAll(outDir)
		doc.Rows = append(doc.Rows, row)
		measured[name] = true
		med := median(row.Measured)
		fmt.Fprintf(os.Stderr, "%-28s plan %7.1f MiB  run %7.1f MiB  %+6.1f%%  (%.0f s)\n", name, mib(row.Predicted), mib(med), 100*(float64(row.Predicted)/float64(med)-1), row.Seconds)
	}
	if *merge != "" {
		// Earlier rows are re-planned from their configurations, so that
		// every row shows the current plan.
		b, err := os.ReadFile(*merge)
		if err != nil {
			return err
		}
		var old trainDoc
		if err := json.Unmarshal(b, &old); err != nil {
			return fmt.Errorf("%s: %v", *merge, err)
		}
		for _, r := range old.Rows {
			name := r.name()
			if measured[name] {
				continue
			}
			file, _, _, err := source(r.trainConfig)
			if err != nil {
				return err
			}
			if err := planRow(wc, file, &r); err != nil {
				return fmt.Errorf("%s: %v", name, err)
			}
			doc.BaseBytes = r.Components["process"]
			doc.Rows = append(doc.Rows, r)
		}
		if doc.Note == "" {
			doc.Note = old.Note
		}
	}
	js, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = os.Stdout.Write(append(js, '\n'))
		return err
	}
	return os.WriteFile(*out, append(js, '\n'), 0o644)
}

// planRow fills row's prediction from `whisperc plan --json file`.
func planRow(wc, file string, row *trainRow) error {
	plan, err := exec.Command(wc, "plan", "--json", file).Output()
	if err != nil {
		return fmt.Errorf("plan: %v", err)
	}
	var p struct {
		Stages []struct {
			ID     string `json:"id"`
			Memory struct {
				Total      int64 `json:"total_bytes"`
				Components []struct {
					Name  string `json:"name"`
					Bytes int64  `json:"bytes"`
				} `json:"components"`
			} `json:"memory"`
		} `json:"stages"`
	}
	if err := json.Unmarshal(plan, &p); err != nil {
		return fmt.Errorf("plan: %v", err)
	}
	row.Components = map[string]int64{}
	for _, s := range p.Stages {
		if s.ID == "train.ft" {
			row.Predicted = s.Memory.Total
			for _, comp := range s.Memory.Components {
				row.Components[comp.Name] = comp.Bytes
			}
		}
	}
	if row.Predicted == 0 {
		return fmt.Errorf("the plan has no train.ft stage")
	}
	return nil
}

func trainWhisper(c trainConfig, model, tok, data, out string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "model m {\n  source = %q\n  tokenizer = %q\n", "llama2c:"+model, tok)
	if c.Quant != "" {
		fmt.Fprintf(&b, "  quantize { method = %s, double = true, compute = fp32 }\n", c.Quant)
	}
	fmt.Fprintf(&b, "}\ndataset d {\n  source = %q\n  format = jsonl\n  field = \"text\"\n  seq_len = %d\n  truncate = true\n  version = none\n}\n", data, c.Seq)
	prec := c.Precision
	if prec == "" {
		prec = "fp32"
	}
	fmt.Fprintf(&b, "finetune ft {\n  model = m\n  data = d\n  precision = %s\n  attention = %s\n", prec, c.Attention)
	if c.Method == "full" {
		b.WriteString("  method = full\n")
	}
	if c.Rank > 0 {
		fmt.Fprintf(&b, "  lora { rank = %d, alpha = %d, dropout = %g, targets = [%s] }\n", c.Rank, 2*c.Rank, c.Dropout, strings.Join(c.Targets, ", "))
	}
	fmt.Fprintf(&b, "  checkpointing = %s\n  optimizer { name = %s, lr = 1e-4 }\n  batch = %d\n  epochs = 1\n  max_steps = %d\n  output = %q\n}\n", c.Checkpointing, c.Optimizer, c.Batch, c.Steps, out)
	b.WriteString("version {\n  data = none\n  checkpoints = none\n}\n")
	return b.String()
}

// name is the configuration's name for -only: MODEL-METHOD-CHECKPOINTING-OPTIMIZER,
// with -bf16 for a bf16 base.
func (c trainConfig) name() string {
	n := fmt.Sprintf("%s-%s-%s-%s", c.Model, c.Method, c.Checkpointing, c.Optimizer)
	if c.Precision != "" && c.Precision != "fp32" {
		n += "-" + c.Precision
	}
	return n
}

func median(xs []int64) int64 {
	s := append([]int64(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// cpuModel returns the CPU's model name from /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
