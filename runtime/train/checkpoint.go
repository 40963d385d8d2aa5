package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gorgonia.org/tensor"

	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/format/safetensors"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// The files of a checkpoint directory (checkpoint-N) and of the final
// output directory.
const (
	AdapterConfigName = "adapter_config.json"
	AdapterModelName  = "adapter_model.safetensors"
	stateName         = "trainer_state.json"
	optimizerName     = "optimizer.safetensors"
	checkpointPrefix  = "checkpoint-"
	// keepCheckpoints is how many checkpoint directories are kept.
	keepCheckpoints = 2
)

// trainerState is trainer_state.json.
type trainerState struct {
	Version     int     `json:"version"`
	Fingerprint string  `json:"fingerprint"`
	Step        int     `json:"step"`
	Total       int     `json:"total_steps"`
	Tokens      int64   `json:"tokens"`
	LRScale     float64 `json:"lr_scale"`
	RNG         []byte  `json:"rng"`
	OptStep     int     `json:"optimizer_step"`
	Skipped     int     `json:"skipped"`
	Rollbacks   int     `json:"rollbacks"`
	Method      string  `json:"method"`
}

// peftName returns PEFT's name of an adapter matrix ("A" or "B") on a
// canonical weight: base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight.
func peftName(weight, which string) (string, error) {
	hf, err := safetensors.HFName(weight)
	if err != nil {
		return "", err
	}
	return "base_model.model." + strings.TrimSuffix(hf, ".weight") + ".lora_" + which + ".weight", nil
}

// hfPermutation returns the head count by which B's rows are permuted
// into Hugging Face's rotary layout (q and k projections), or 0.
func (t *Trainer) hfPermutation(weight string) int {
	switch {
	case strings.HasSuffix(weight, ".attention.wq.weight"):
		return t.e.Config().Heads
	case strings.HasSuffix(weight, ".attention.wk.weight"):
		return t.e.Config().KVHeads
	}
	return 0
}

// adapterTensors returns the adapters as PEFT-named tensors in Hugging
// Face's layout.
func (t *Trainer) adapterTensors() ([]*weights.Tensor, error) {
	var ts []*weights.Tensor
	for _, name := range sortedKeys(t.adapters) {
		ad := t.adapters[name]
		for _, which := range []string{"A", "B"} {
			m := ad.A
			if which == "B" {
				m = ad.B
			}
			pn, err := peftName(name, which)
			if err != nil {
				return nil, err
			}
			wt := f32Tensor(pn, m.Shape(), m.Float32s())
			if heads := t.hfPermutation(name); which == "B" && heads > 0 {
				if wt, err = safetensors.PermuteHF(wt, heads); err != nil {
					return nil, err
				}
				wt.Name = pn
			}
			ts = append(ts, wt)
		}
	}
	return ts, nil
}

// adapterConfig returns adapter_config.json in PEFT's format.
func (t *Trainer) adapterConfig() ([]byte, error) {
	l := t.cfg.LoRA
	mods := append([]string(nil), l.Modules...)
	sort.Strings(mods)
	return json.MarshalIndent(map[string]any{
		"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": l.Rank, "lora_alpha": l.Alpha, "lora_dropout": l.Dropout,
		"target_modules": mods, "bias": "none", "fan_in_fan_out": false, "use_rslora": l.RSLoRA,
		"inference_mode": true, "init_lora_weights": true, "modules_to_save": nil, "base_model_name_or_path": nil,
	}, "", "  ")
}

// writeModel writes the trained model into dir: the adapters (LoRA) or the
// whole model in Hugging Face's Llama layout (full).
func (t *Trainer) writeModel(dir string) error {
	if t.cfg.Method.Adapters() {
		ts, err := t.adapterTensors()
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := safetensors.Write(&buf, ts, map[string]string{"format": "pt"}); err != nil {
			return err
		}
		if err := writeFileSync(filepath.Join(dir, AdapterModelName), buf.Bytes()); err != nil {
			return err
		}
		cfg, err := t.adapterConfig()
		if err != nil {
			return err
		}
		return writeFileSync(filepath.Join(dir, AdapterConfigName), cfg)
	}
	// Full fine-tuning trains every weight: the params are the model, and
	// the set aliases their values rather than copying them.
	s := &weights.Set{Config: t.e.Config(), Tensors: map[string]*weights.Tensor{}, Source: "trained"}
	for _, p := range t.params {
		if p.BF16 != nil {
			// Weights trained in bf16 are saved as they are: BF16 tensors.
			s.Tensors[p.Name] = &weights.Tensor{Name: p.Name, Shape: p.Shape, DType: weights.BF16, Data: p.BF16}
			continue
		}
		s.Tensors[p.Name] = f32Tensor(p.Name, p.Shape, p.Value)
	}
	if err := safetensors.WriteHF(dir, s, 1); err != nil {
		return err
	}
	for _, n := range []string{safetensors.ConfigName, safetensors.SingleName} {
		if err := syncFile(filepath.Join(dir, n)); err != nil {
			return err
		}
	}
	return nil
}

// Save writes checkpoint-STEP into out atomically: every file is written
// and synced in a temporary directory that is then renamed into place, so
// a crash leaves either the whole checkpoint or none. Older checkpoints
// beyond the last two are removed. The checkpoint becomes the run's last
// good state, which a rollback reads back. It returns the checkpoint's
// path.
func (t *Trainer) Save(out, fingerprint string) (string, error) {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", fmt.Errorf("train: %w", err)
	}
	final := filepath.Join(out, fmt.Sprintf("%s%d", checkpointPrefix, t.step))
	tmp, err := os.MkdirTemp(out, ".tmp-"+checkpointPrefix)
	if err != nil {
		return "", fmt.Errorf("train: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := t.writeModel(tmp); err != nil {
		return "", fmt.Errorf("train: writing the checkpoint: %w", err)
	}
	var opt []*weights.Tensor
	for i, p := range t.params {
		if q := t.opt.Q; q != nil {
			// 8-bit moments: the codes (exact in fp32) and block scales.
			for _, m := range []struct {
				name string
				q    *quantMoment
			}{{".m8", q.m[i]}, {".v8", q.v[i]}} {
				codes := make([]float32, len(m.q.codes))
				for j, c := range m.q.codes {
					codes[j] = float32(c)
				}
				opt = append(opt, f32Tensor(p.Name+m.name, []int{len(codes)}, codes), f32Tensor(p.Name+m.name+".absmax", []int{len(m.q.absmax)}, m.q.absmax))
			}
			continue
		}
		opt = append(opt, f32Tensor(p.Name+".m", p.Shape, t.opt.M[i]))
		if t.opt.V != nil {
			opt = append(opt, f32Tensor(p.Name+".v", p.Shape, t.opt.V[i]))
		}
	}
	if err := writeTensorsSync(filepath.Join(tmp, optimizerName), opt, map[string]string{"optimizer": t.cfg.Optimizer.Kind.String()}); err != nil {
		return "", err
	}
	rng, err := t.rng.MarshalBinary()
	if err != nil {
		return "", fmt.Errorf("train: %w", err)
	}
	st, err := json.MarshalIndent(trainerState{Version: 1, Fingerprint: fingerprint, Step: t.step, Total: t.total, Tokens: t.tokens,
		LRScale: t.lrScale, RNG: rng, OptStep: t.opt.Step, Skipped: t.Skipped, Rollbacks: t.Rollbacks, Method: t.cfg.Method.String()}, "", "  ")
	if err != nil {
		return "", fmt.Errorf("train: %w", err)
	}
	if err := writeFileSync(filepath.Join(tmp, stateName), st); err != nil {
		return "", err
	}
	if err := syncDir(tmp); err != nil {
		return "", err
	}
	if err := os.RemoveAll(final); err != nil {
		return "", fmt.Errorf("train: %w", err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("train: %w", err)
	}
	if err := syncDir(out); err != nil {
		return "", err
	}
	steps, _ := checkpoints(out)
	for len(steps) > keepCheckpoints {
		os.RemoveAll(filepath.Join(out, fmt.Sprintf("%s%d", checkpointPrefix, steps[0])))
		steps = steps[1:]
	}
	t.back.dir, t.back.fingerprint = final, fingerprint // the last good state from now on
	return final, nil
}

// Export writes the final adapters or model into out itself, each file
// atomically.
func (t *Trainer) Export(out string) error {
	tmp, err := os.MkdirTemp(out, ".tmp-export-")
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := t.writeModel(tmp); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	entries, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	for _, e := range entries {
		if err := os.Rename(filepath.Join(tmp, e.Name()), filepath.Join(out, e.Name())); err != nil {
			return fmt.Errorf("train: %w", err)
		}
	}
	return syncDir(out)
}

// checkpoints returns the steps of the complete checkpoints in out, in
// increasing order.
func checkpoints(out string) ([]int, error) {
	entries, err := os.ReadDir(out)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var steps []int
	for _, e := range entries {
		if rest, ok := strings.CutPrefix(e.Name(), checkpointPrefix); ok && e.IsDir() {
			if n, err := strconv.Atoi(rest); err == nil && n >= 0 {
				steps = append(steps, n)
			}
		}
	}
	sort.Ints(steps)
	return steps, nil
}

// ResumeLatest restores the latest checkpoint in out, when there is one,
// and returns its step (0 when there is none). A checkpoint written by a
// different configuration is an error: resuming it would silently mix two
// runs.
func (t *Trainer) ResumeLatest(out, fingerprint string) (int, error) {
	steps, err := checkpoints(out)
	if err != nil {
		return 0, fmt.Errorf("train: %w", err)
	}
	if len(steps) == 0 {
		return 0, nil
	}
	dir := filepath.Join(out, fmt.Sprintf("%s%d", checkpointPrefix, steps[len(steps)-1]))
	if err := t.Load(dir, fingerprint); err != nil {
		return 0, err
	}
	return t.step, nil
}

// Load restores the trainer from a checkpoint directory.
func (t *Trainer) Load(dir, fingerprint string) error {
	b, err := os.ReadFile(filepath.Join(dir, stateName))
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	var st trainerState
	if err := json.Unmarshal(b, &st); err != nil {
		return fmt.Errorf("train: %s: %v", filepath.Join(dir, stateName), err)
	}
	if st.Fingerprint != fingerprint {
		return fmt.Errorf("train: %s was written by a different configuration of this fine-tune; delete it (or set another output) to start over", dir)
	}
	if st.Step > t.total || st.Total != t.total || st.Version != 1 {
		return fmt.Errorf("train: %s does not fit this run (step %d of %d, this run has %d)", dir, st.Step, st.Total, t.total)
	}
	// Every value is decoded straight into the trainer's own buffer, one
	// tensor at a time: the files stay mapped, and nothing the size of the
	// model or its moments is allocated on the way.
	src := map[string]*weights.Tensor{}
	if t.cfg.Method.Adapters() {
		f, err := safetensors.OpenFile(filepath.Join(dir, AdapterModelName))
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
		defer f.Close()
		byName := map[string]*weights.Tensor{}
		for _, x := range f.Tensors {
			byName[x.Name] = x
		}
		for _, name := range sortedKeys(t.adapters) {
			for _, which := range []string{"A", "B"} {
				pn, err := peftName(name, which)
				if err != nil {
					return err
				}
				x, ok := byName[pn]
				if !ok {
					return fmt.Errorf("train: %s has no tensor %s", dir, pn)
				}
				if heads := t.hfPermutation(name); which == "B" && heads > 0 {
					if x, err = safetensors.UnpermuteHF(x, heads); err != nil {
						return err
					}
				}
				src[name+".lora_"+which] = x
			}
		}
	} else {
		ws, err := safetensors.OpenHF(dir)
		if err != nil {
			return fmt.Errorf("train: %w", err)
		}
		if ws.Close != nil {
			defer ws.Close()
		}
		for n, x := range ws.Tensors {
			src[n] = x
		}
	}
	of, err := safetensors.OpenFile(filepath.Join(dir, optimizerName))
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer of.Close()
	for _, x := range of.Tensors {
		src["optimizer:"+x.Name] = x
	}
	decode := func(key string, dst []float32) error {
		x, ok := src[key]
		if !ok || x.Elements() != len(dst) {
			return fmt.Errorf("train: %s lacks %s or has the wrong size", dir, strings.TrimPrefix(key, "optimizer:"))
		}
		if err := quant.DequantizeInto(dst, x.DType, x.Data); err != nil {
			return fmt.Errorf("train: %s: %s: %w", dir, x.Name, err)
		}
		return nil
	}
	var codes []float32 // one 8-bit moment's codes at a time
	for i, p := range t.params {
		if p.BF16 != nil {
			// A weight trained in bf16 reads back bit for bit from its
			// BF16 tensor; any other dtype would round.
			x, ok := src[p.Name]
			if !ok || x.DType != weights.BF16 || len(x.Data) != len(p.BF16) {
				return fmt.Errorf("train: %s lacks %s as a BF16 tensor of %d values", dir, p.Name, p.Len())
			}
			copy(p.BF16, x.Data)
		}
		if q := t.opt.Q; q != nil {
			for _, m := range []struct {
				name string
				q    *quantMoment
			}{{".m8", q.m[i]}, {".v8", q.v[i]}} {
				key := "optimizer:" + p.Name + m.name
				if x, ok := src[key]; !ok || x.Elements() != len(m.q.codes) {
					return fmt.Errorf("train: %s lacks %s's 8-bit moments or has the wrong size", dir, p.Name)
				}
				if cap(codes) < len(m.q.codes) {
					codes = make([]float32, len(m.q.codes))
				}
				codes = codes[:len(m.q.codes)]
				if err := decode(key, codes); err != nil {
					return err
				}
				if err := decode(key+".absmax", m.q.absmax); err != nil {
					return err
				}
				for j, c := range codes {
					if c < 0 || c > 255 || c != float32(int(c)) {
						return fmt.Errorf("train: %s: %s has an invalid 8-bit code %g", dir, p.Name, c)
					}
					m.q.codes[j] = uint8(c)
				}
			}
		}
		for _, c := range []struct {
			key string
			dst []float32
		}{{p.Name, p.Value}, {"optimizer:" + p.Name + ".m", mAt(t.opt.M, i)}, {"optimizer:" + p.Name + ".v", vAt(t.opt.V, i)}} {
			if c.dst == nil {
				continue
			}
			if err := decode(c.key, c.dst); err != nil {
				return err
			}
		}
	}
	if err := t.rng.UnmarshalBinary(st.RNG); err != nil {
		return fmt.Errorf("train: %s: the random state: %w", dir, err)
	}
	t.step, t.tokens, t.lrScale, t.opt.Step = st.Step, st.Tokens, st.LRScale, st.OptStep
	t.Skipped, t.Rollbacks = st.Skipped, st.Rollbacks
	t.back.dir, t.back.fingerprint = dir, fingerprint
	return nil
}

func mAt(m [][]float32, i int) []float32 {
	if m == nil {
		return nil
	}
	return m[i]
}

func vAt(v [][]float32, i int) []float32 {
	if v == nil {
		return nil
	}
	return v[i]
}

// LoadAdapters reads PEFT adapters (adapter_config.json and
// adapter_model.safetensors) from dir for a model with the given heads, in
// the engine's layout, by adapted canonical weight name.
func LoadAdapters(dir string, heads, kvHeads, layers int) (map[string]*engine.Adapter, error) {
	b, err := os.ReadFile(filepath.Join(dir, AdapterConfigName))
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	var cfg struct {
		R        int      `json:"r"`
		Alpha    float64  `json:"lora_alpha"`
		RSLoRA   bool     `json:"use_rslora"`
		PEFTType string   `json:"peft_type"`
		Targets  []string `json:"target_modules"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("train: %s: %v", filepath.Join(dir, AdapterConfigName), err)
	}
	if cfg.PEFTType != "LORA" || cfg.R < 1 || cfg.Alpha <= 0 {
		return nil, fmt.Errorf("train: %s is not a LoRA adapter config with r ≥ 1 and lora_alpha > 0", filepath.Join(dir, AdapterConfigName))
	}
	scale := LoRAConfig{Rank: cfg.R, Alpha: cfg.Alpha, RSLoRA: cfg.RSLoRA}.Scale()
	f, err := safetensors.OpenFile(filepath.Join(dir, AdapterModelName))
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	defer f.Close()
	byName := map[string]*weights.Tensor{}
	for _, x := range f.Tensors {
		byName[x.Name] = x
	}
	out := map[string]*engine.Adapter{}
	for l := range layers {
		for _, m := range cfg.Targets {
			suffix, ok := moduleWeights[m]
			if !ok {
				return nil, fmt.Errorf("train: %s: target module %q is not a Llama projection", dir, m)
			}
			name := fmt.Sprintf("layers.%d.%s", l, suffix)
			var mats [2]*tensor.Dense
			for i, which := range []string{"A", "B"} {
				pn, err := peftName(name, which)
				if err != nil {
					return nil, err
				}
				x, ok := byName[pn]
				if !ok || len(x.Shape) != 2 {
					return nil, fmt.Errorf("train: %s has no matrix %s", dir, pn)
				}
				h := map[string]int{"attention.wq.weight": heads, "attention.wk.weight": kvHeads}[suffix]
				if which == "B" && h > 0 {
					if x, err = safetensors.UnpermuteHF(x, h); err != nil {
						return nil, fmt.Errorf("train: %s: %w", pn, err)
					}
				}
				v, err := quant.Dequantize(x)
				if err != nil {
					return nil, fmt.Errorf("train: %s: %w", pn, err)
				}
				mats[i] = tensor.New(tensor.WithShape(x.Shape...), tensor.WithBacking(v))
			}
			out[name] = &engine.Adapter{A: mats[0], B: mats[1], Scale: float32(scale)}
		}
	}
	return out, nil
}

// f32Tensor returns v as an F32 tensor for writing, without copying it.
func f32Tensor(name string, shape []int, v []float32) *weights.Tensor {
	return weights.FromFloat32s(name, shape, v)
}

// writeFileSync writes data to path and syncs it to disk.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("train: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("train: %w", err)
	}
	return f.Close()
}

// writeTensorsSync writes tensors as a safetensors file at path, through a
// buffer rather than whole in memory, and syncs it to disk.
func writeTensorsSync(path string, tensors []*weights.Tensor, metadata map[string]string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := safetensors.Write(w, tensors, metadata); err != nil {
		f.Close()
		return fmt.Errorf("train: %w", err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("train: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("train: %w", err)
	}
	return f.Close()
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("train: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}
