package safetensors

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/modelwhisperer/whisperc/lang/input"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/format/internal/canon"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// Names of the files of a Hugging Face checkpoint directory.
// MaxConfigBytes bounds what is read of a config.json; real ones are a
// few kilobytes.
const MaxConfigBytes = 1 << 20

const (
	ConfigName = "config.json"
	SingleName = "model.safetensors"
	IndexName  = "model.safetensors.index.json"
)

// hfGlobal maps Hugging Face Llama names of whole-model tensors to canonical
// names.
var hfGlobal = map[string]string{
	"model.embed_tokens.weight": "tok_embeddings.weight",
	"model.norm.weight":         "norm.weight",
	"lm_head.weight":            "output.weight",
}

// hfLayer maps Hugging Face per-layer suffixes to canonical ones.
var hfLayer = map[string]string{
	"input_layernorm.weight":          "attention_norm.weight",
	"self_attn.q_proj.weight":         "attention.wq.weight",
	"self_attn.k_proj.weight":         "attention.wk.weight",
	"self_attn.v_proj.weight":         "attention.wv.weight",
	"self_attn.o_proj.weight":         "attention.wo.weight",
	"post_attention_layernorm.weight": "ffn_norm.weight",
	"mlp.gate_proj.weight":            "feed_forward.w1.weight",
	"mlp.down_proj.weight":            "feed_forward.w2.weight",
	"mlp.up_proj.weight":              "feed_forward.w3.weight",
}

// CanonicalName maps a Hugging Face Llama tensor name to the canonical name.
func CanonicalName(name string, layers int) (string, error) {
	if c, ok := hfGlobal[name]; ok {
		return c, nil
	}
	if rest, ok := strings.CutPrefix(name, "model.layers."); ok {
		num, suffix, _ := strings.Cut(rest, ".")
		n, err := strconv.Atoi(num)
		if err == nil && strconv.Itoa(n) == num {
			if n < 0 || n >= layers {
				return "", fmt.Errorf("tensor %q names layer %s, but config.json has %d layers", name, num, layers)
			}
			if c, ok := hfLayer[suffix]; ok {
				return "layers." + num + "." + c, nil
			}
		}
	}
	return "", fmt.Errorf("tensor %q has no canonical name; whisperc reads Llama-layout checkpoints", name)
}

// HFName maps a canonical tensor name to the Hugging Face Llama name.
func HFName(canonical string) (string, error) {
	for h, c := range hfGlobal {
		if c == canonical {
			return h, nil
		}
	}
	if rest, ok := strings.CutPrefix(canonical, "layers."); ok {
		num, suffix, _ := strings.Cut(rest, ".")
		for h, c := range hfLayer {
			if c == suffix {
				return "model.layers." + num + "." + h, nil
			}
		}
	}
	return "", fmt.Errorf("tensor %q has no Hugging Face name", canonical)
}

// PermuteHF reorders the rows of a q or k projection from Meta's
// interleaved rotary layout to Hugging Face's half-split one, as
// transformers' convert_llama_weights_to_hf.py does: within each head of
// size d, row 2i+j moves to row j*d/2+i. UnpermuteHF is its inverse.
func PermuteHF(t *weights.Tensor, heads int) (*weights.Tensor, error) {
	return permuteRows(t, heads, false)
}

// UnpermuteHF undoes PermuteHF, turning a Hugging Face q or k projection
// into Meta's interleaved layout.
func UnpermuteHF(t *weights.Tensor, heads int) (*weights.Tensor, error) {
	return permuteRows(t, heads, true)
}

func permuteRows(t *weights.Tensor, heads int, inverse bool) (*weights.Tensor, error) {
	if len(t.Shape) != 2 || heads <= 0 || t.Shape[0]%(2*heads) != 0 {
		return nil, fmt.Errorf("tensor %q of shape %v cannot be split into %d heads of rotary pairs", t.Name, t.Shape, heads)
	}
	rows := t.Shape[0]
	if rows == 0 || len(t.Data)%rows != 0 {
		return nil, fmt.Errorf("tensor %q: %d bytes do not divide into %d rows", t.Name, len(t.Data), rows)
	}
	rb := len(t.Data) / rows
	half := rows / heads / 2
	out := make([]byte, len(t.Data))
	for h := 0; h < heads; h++ {
		base := h * 2 * half
		for i := 0; i < half; i++ {
			for j := 0; j < 2; j++ {
				meta, hf := base+2*i+j, base+j*half+i
				src, dst := meta, hf
				if inverse {
					src, dst = hf, meta
				}
				copy(out[dst*rb:(dst+1)*rb], t.Data[src*rb:(src+1)*rb])
			}
		}
	}
	return &weights.Tensor{Name: t.Name, Shape: t.Shape, DType: t.DType, Data: out}, nil
}

// OpenHF loads a Hugging Face Llama checkpoint. path is a directory holding
// config.json and model.safetensors or model.safetensors.index.json with its
// shards, or one of those files (config.json is then read beside it). The q
// and k projections are un-permuted into Meta's rotary layout (copies); all
// other tensors alias the mapped files. The Set's Close unmaps them.
func OpenHF(path string) (*weights.Set, error) {
	dir, files, index, err := locate(path)
	if err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, ConfigName)
	cfgData, err := input.ReadFile(cfgPath, "model config", MaxConfigBytes)
	if err != nil {
		return nil, fmt.Errorf("safetensors: a Hugging Face checkpoint needs %s: %w", cfgPath, err)
	}
	c, err := arch.FromHFConfig(cfgData)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	if c.Family != arch.Llama || c.QKVBias {
		return nil, fmt.Errorf("%s: model_type describes a %v model%s; whisperc runs Llama-layout checkpoints (llama, mistral)", cfgPath, c.Family, map[bool]string{true: " with q/k/v biases"}[c.QKVBias])
	}
	s := &weights.Set{Config: c, Tensors: map[string]*weights.Tensor{}, Source: "safetensors:" + path}
	var opened []*File
	closeAll := func() error {
		var errs []error
		for _, f := range opened {
			errs = append(errs, f.Close())
		}
		return errors.Join(errs...)
	}
	fail := func(err error) (*weights.Set, error) {
		closeAll()
		return nil, err
	}
	for _, fp := range files {
		f, err := OpenFile(fp)
		if err != nil {
			return fail(err)
		}
		opened = append(opened, f)
		for _, t := range f.Tensors {
			if index != nil && index[t.Name] != filepath.Base(fp) {
				return fail(fmt.Errorf("%s: tensor %q is not where %s says (%q)", fp, t.Name, IndexName, index[t.Name]))
			}
			name, err := CanonicalName(t.Name, c.Layers)
			if err != nil {
				return fail(fmt.Errorf("%s: %w", fp, err))
			}
			if _, dup := s.Tensors[name]; dup {
				return fail(fmt.Errorf("%s: tensor %q appears twice", fp, t.Name))
			}
			ct := &weights.Tensor{Name: name, Shape: t.Shape, DType: t.DType, Data: t.Data}
			if err := canon.CheckShape(c, ct); err != nil {
				return fail(fmt.Errorf("%s: tensor %q: %w", fp, t.Name, err))
			}
			switch {
			case strings.HasSuffix(name, ".attention.wq.weight"):
				ct, err = UnpermuteHF(ct, c.Heads)
			case strings.HasSuffix(name, ".attention.wk.weight"):
				ct, err = UnpermuteHF(ct, c.KVHeads)
			}
			if err != nil {
				return fail(fmt.Errorf("%s: %w", fp, err))
			}
			s.Tensors[name] = ct
		}
	}
	if index != nil {
		for name := range index {
			cn, err := CanonicalName(name, c.Layers)
			if err != nil {
				return fail(fmt.Errorf("%s: %w", filepath.Join(dir, IndexName), err))
			}
			if _, ok := s.Tensors[cn]; !ok {
				return fail(fmt.Errorf("%s: lists tensor %q, which its shard does not hold", filepath.Join(dir, IndexName), name))
			}
		}
	}
	_, hasHead := s.Tensors["output.weight"]
	if !hasHead && !c.Tied {
		return fail(fmt.Errorf("%s: lm_head.weight is missing and config.json does not tie it to the embeddings", path))
	}
	s.Config.Tied = !hasHead
	if err := canon.CheckComplete(s); err != nil {
		return fail(fmt.Errorf("%s: %w", path, err))
	}
	s.Close = closeAll
	return s, nil
}

// locate finds a checkpoint's directory, its safetensors files and, when
// sharded, the index's tensor-to-shard map.
func locate(path string) (dir string, files []string, index map[string]string, err error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	idx := ""
	if st.IsDir() {
		dir = path
		if _, err := os.Stat(filepath.Join(dir, IndexName)); err == nil {
			idx = filepath.Join(dir, IndexName)
		} else if errors.Is(err, fs.ErrNotExist) {
			return dir, []string{filepath.Join(dir, SingleName)}, nil, nil
		} else {
			return "", nil, nil, fmt.Errorf("safetensors: %w", err)
		}
	} else {
		dir = filepath.Dir(path)
		if !strings.HasSuffix(path, ".index.json") {
			return dir, []string{path}, nil, nil
		}
		idx = path
	}
	data, err := input.ReadFile(idx, "safetensors index", 64<<20)
	if err != nil {
		return "", nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	var ix struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.NewDecoder(bytes.NewReader(data)).Decode(&ix); err != nil {
		return "", nil, nil, fmt.Errorf("%s: %w", idx, err)
	}
	if len(ix.WeightMap) == 0 {
		return "", nil, nil, fmt.Errorf("%s: weight_map is empty", idx)
	}
	seen := map[string]bool{}
	for tensor, shard := range ix.WeightMap {
		if shard == "" || filepath.Base(shard) != shard || shard == "." || shard == ".." {
			return "", nil, nil, fmt.Errorf("%s: tensor %q maps to %q, which is not a file name in the checkpoint's directory", idx, tensor, shard)
		}
		if !seen[shard] {
			seen[shard] = true
			files = append(files, filepath.Join(dir, shard))
		}
	}
	slices.Sort(files)
	return dir, files, ix.WeightMap, nil
}

// hfConfigJSON renders c as a Llama config.json.
func hfConfigJSON(c arch.Config, dtype string) ([]byte, error) {
	m := map[string]any{
		"architectures":           []string{"LlamaForCausalLM"},
		"model_type":              "llama",
		"hidden_size":             c.Dim,
		"intermediate_size":       c.HiddenDim,
		"num_hidden_layers":       c.Layers,
		"num_attention_heads":     c.Heads,
		"num_key_value_heads":     c.KVHeads,
		"vocab_size":              c.Vocab,
		"max_position_embeddings": c.MaxSeq,
		"rope_theta":              c.RopeTheta,
		"rms_norm_eps":            c.NormEps,
		"tie_word_embeddings":     c.Tied,
		"hidden_act":              "silu",
		"torch_dtype":             dtype,
	}
	if c.HeadDim != 0 && c.HeadDim*c.Heads != c.Dim {
		m["head_dim"] = c.HeadDim
	}
	return json.MarshalIndent(m, "", "  ")
}

// WriteHF writes s into dir as a Hugging Face Llama checkpoint: config.json
// and, with shards <= 1, model.safetensors, otherwise that many
// model-0000i-of-0000n.safetensors files and model.safetensors.index.json.
// The q and k projections are permuted into Hugging Face's layout.
//
// config.json's torch_dtype is bfloat16 when the linear weights are
// stored in BF16 (a bf16 fine-tune, whose embeddings and norms may stay
// F32), else float32.
func WriteHF(dir string, s *weights.Set, shards int) error {
	dtype := "float32"
	for n, t := range s.Tensors {
		if strings.HasPrefix(n, "layers.") && len(t.Shape) == 2 && t.DType == weights.BF16 {
			dtype = "bfloat16"
			break
		}
	}
	cfg, err := hfConfigJSON(s.Config, dtype)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ConfigName), cfg, 0o644); err != nil {
		return err
	}
	names := make([]string, 0, len(s.Tensors))
	for n := range s.Tensors {
		names = append(names, n)
	}
	slices.Sort(names)
	var ts []*weights.Tensor
	for _, n := range names {
		t := s.Tensors[n]
		hn, err := HFName(n)
		if err != nil {
			return fmt.Errorf("safetensors: %w", err)
		}
		switch {
		case strings.HasSuffix(n, ".attention.wq.weight"):
			t, err = PermuteHF(t, s.Config.Heads)
		case strings.HasSuffix(n, ".attention.wk.weight"):
			t, err = PermuteHF(t, s.Config.KVHeads)
		}
		if err != nil {
			return err
		}
		ts = append(ts, &weights.Tensor{Name: hn, Shape: t.Shape, DType: t.DType, Data: t.Data})
	}
	if shards <= 1 {
		return writeFile(filepath.Join(dir, SingleName), ts)
	}
	weightMap := map[string]string{}
	per := (len(ts) + shards - 1) / shards
	for i := 0; i < shards; i++ {
		part := ts[min(i*per, len(ts)):min((i+1)*per, len(ts))]
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, shards)
		for _, t := range part {
			weightMap[t.Name] = name
		}
		if err := writeFile(filepath.Join(dir, name), part); err != nil {
			return err
		}
	}
	ix, err := json.MarshalIndent(map[string]any{"metadata": map[string]any{}, "weight_map": weightMap}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, IndexName), ix, 0o644)
}

// writeFile writes ts as one safetensors file through a buffer, never
// holding the file's bytes in memory (a model's worth, and up to twice
// that while a bytes.Buffer grows).
func writeFile(path string, ts []*weights.Tensor) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := Write(w, ts, map[string]string{"format": "pt"}); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
