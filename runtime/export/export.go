// Package export writes models for deployment: a GGUF file that llama.cpp
// and Ollama load (F32, F16, Q8_0, Q4_0 or Q4_K_M weights, the tokenizer and the
// chat template in its metadata), a fine-tune's LoRA adapters either merged
// into it or as a separate GGUF adapter (general.type = adapter), and an
// Ollama Modelfile beside it. Every file is written atomically: to a
// temporary file in the same folder, synced, then renamed.
package export

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gorgonia.org/tensor"

	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format/gguf"
	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/serve"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// Options say what to write.
type Options struct {
	// Path is the GGUF file to write; the adapter (when not merged) and
	// the Modelfile go beside it.
	Path string
	// Name is the model's name, in the metadata and the Modelfile.
	Name string
	// DType is the linear weights' format: F32, F16, Q8_0 or Q4_0, or
	// Q4_K for llama.cpp's Q4_K_M mix of Q4_K and Q6_K (see mixQ4_K_M).
	DType weights.DType
	// Adapters are a LoRA fine-tune's adapters by weight name, or nil.
	Adapters map[string]*engine.Adapter
	// Merge folds Adapters into the weights; otherwise they are written as
	// a GGUF adapter next to the base model.
	Merge bool
	// Modelfile writes an Ollama Modelfile beside the GGUF file.
	Modelfile bool
	// System is the Modelfile's SYSTEM prompt, if any.
	System string
	// Template is the chat template for the metadata and the Modelfile.
	Template *serve.ChatTemplate
}

// Written lists the files an export wrote.
type Written struct {
	Model, Adapter, Modelfile string
}

// Export writes ws (with the vocabulary v) as o says.
func Export(ws *weights.Set, v *gguf.Vocab, o Options) (Written, error) {
	var w Written
	switch o.DType {
	case weights.F32, weights.F16, weights.Q8_0, weights.Q4_0, weights.Q4_K:
	default:
		return w, fmt.Errorf("export: weights cannot be written as %s; use f16, q8_0, q4_0 or q4_k (the Q4_K_M mix)", o.DType)
	}
	if v == nil {
		return w, fmt.Errorf("export: the model has no vocabulary to embed")
	}
	if o.Template == nil {
		return w, fmt.Errorf("export: no chat template")
	}
	src := ws
	if len(o.Adapters) > 0 && o.Merge {
		var err error
		if src, err = Merge(ws, o.Adapters); err != nil {
			return w, err
		}
	}
	var conv *weights.Set
	var err error
	if o.DType == weights.Q4_K {
		conv, err = mixQ4_K_M(src)
	} else if conv, err = gguf.ConvertSet(src, o.DType); err != nil {
		err = fmt.Errorf("export: %w", err)
	}
	if err != nil {
		return w, err
	}
	if o.Name != "" {
		conv.Config.Name = o.Name
	}
	vocab := *v
	vocab.ChatTemplate = o.Template.Jinja
	write := func(f io.Writer) error { return gguf.WriteSet(f, conv, &vocab) }
	if o.DType == weights.Q4_K {
		write = func(f io.Writer) error { return gguf.WriteSetFileType(f, conv, &vocab, gguf.FileTypeQ4_K_M) }
	}
	if err := atomicWrite(o.Path, write); err != nil {
		return w, err
	}
	w.Model = o.Path
	if len(o.Adapters) > 0 && !o.Merge {
		w.Adapter = strings.TrimSuffix(o.Path, ".gguf") + ".adapter.gguf"
		if err := atomicWrite(w.Adapter, func(f io.Writer) error { return WriteAdapter(f, ws, o.Adapters) }); err != nil {
			return w, err
		}
	}
	if o.Modelfile {
		w.Modelfile = filepath.Join(filepath.Dir(o.Path), "Modelfile")
		adapter := ""
		if w.Adapter != "" {
			adapter = filepath.Base(w.Adapter)
		}
		text := Modelfile(filepath.Base(w.Model), adapter, o, ws.Config.MaxSeq)
		if err := atomicWrite(w.Modelfile, func(f io.Writer) error { _, err := io.WriteString(f, text); return err }); err != nil {
			return w, err
		}
	}
	return w, nil
}

// Merge returns a copy of ws whose adapted linear weights are W + s·B·A
// in fp32; other tensors are shared with ws.
func Merge(ws *weights.Set, adapters map[string]*engine.Adapter) (*weights.Set, error) {
	out := &weights.Set{Config: ws.Config, Tensors: make(map[string]*weights.Tensor, len(ws.Tensors)), Source: ws.Source}
	for n, t := range ws.Tensors {
		out.Tensors[n] = t
	}
	for _, name := range sortedNames(adapters) {
		a := adapters[name]
		t, err := ws.Get(name)
		if err != nil {
			return nil, fmt.Errorf("export: an adapter targets %w", err)
		}
		if len(t.Shape) != 2 {
			return nil, fmt.Errorf("export: adapter target %s is not a matrix", name)
		}
		rows, cols := t.Shape[0], t.Shape[1]
		A, B, r, err := adapterMatrices(a, rows, cols)
		if err != nil {
			return nil, fmt.Errorf("export: adapter of %s: %w", name, err)
		}
		w, err := quant.Dequantize(t)
		if err != nil {
			return nil, fmt.Errorf("export: %s: %w", name, err)
		}
		merged := make([]float32, len(w))
		copy(merged, w)
		for i := range rows {
			row := merged[i*cols : (i+1)*cols]
			for k := range r {
				s := a.Scale * B[i*r+k]
				if s == 0 {
					continue
				}
				ak := A[k*cols : (k+1)*cols]
				for j := range row {
					row[j] += s * ak[j]
				}
			}
		}
		out.Tensors[name] = &weights.Tensor{Name: t.Name, Shape: []int{rows, cols}, DType: weights.F32, Data: f32Bytes(merged)}
	}
	return out, nil
}

// adapterMatrices returns an adapter's A [r, cols] and B [rows, r].
func adapterMatrices(a *engine.Adapter, rows, cols int) (A, B []float32, r int, err error) {
	if a == nil || a.A == nil || a.B == nil {
		return nil, nil, 0, fmt.Errorf("missing matrices")
	}
	as, bs := a.A.Shape(), a.B.Shape()
	if len(as) != 2 || len(bs) != 2 || as[1] != cols || bs[0] != rows || as[0] != bs[1] {
		return nil, nil, 0, fmt.Errorf("A is %v and B %v, which do not fit a %d×%d weight", as, bs, rows, cols)
	}
	A, okA := a.A.Data().([]float32)
	B, okB := a.B.Data().([]float32)
	if !okA || !okB {
		return nil, nil, 0, fmt.Errorf("A and B must be float32")
	}
	return A, B, as[0], nil
}

// NewAdapter wraps A [r, in] and B [out, r] as an adapter with the given
// scale (alpha/rank).
func NewAdapter(A, B []float32, r, in, out int, scale float32) *engine.Adapter {
	return &engine.Adapter{
		A:     tensor.New(tensor.WithShape(r, in), tensor.WithBacking(A)),
		B:     tensor.New(tensor.WithShape(out, r), tensor.WithBacking(B)),
		Scale: scale,
	}
}

func sortedNames(m map[string]*engine.Adapter) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// WriteAdapter writes adapters as a llama.cpp LoRA adapter GGUF:
// general.type = adapter, adapter.type = lora, and for each adapted weight
// its lora_a [r, in] and lora_b [out, r] in F32 under the weight's GGUF
// name. llama.cpp scales an adapter by alpha/rank, so alpha is written as
// scale·rank.
func WriteAdapter(w io.Writer, base *weights.Set, adapters map[string]*engine.Adapter) error {
	names := sortedNames(adapters)
	if len(names) == 0 {
		return fmt.Errorf("export: no adapters to write")
	}
	var alpha float32
	var ts []*weights.Tensor
	for i, name := range names {
		a := adapters[name]
		t, err := base.Get(name)
		if err != nil {
			return fmt.Errorf("export: an adapter targets %w", err)
		}
		A, B, r, err := adapterMatrices(a, t.Shape[0], t.Shape[1])
		if err != nil {
			return fmt.Errorf("export: adapter of %s: %w", name, err)
		}
		al := a.Scale * float32(r)
		if i == 0 {
			alpha = al
		} else if al != alpha {
			return fmt.Errorf("export: adapters have different alpha/rank scales (%v and %v); a GGUF adapter has one alpha", alpha, al)
		}
		g, err := gguf.GGUFName(name)
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		g = strings.TrimSuffix(g, ".weight")
		ts = append(ts,
			&weights.Tensor{Name: g + ".weight.lora_a", Shape: []int{r, t.Shape[1]}, DType: weights.F32, Data: f32Bytes(A)},
			&weights.Tensor{Name: g + ".weight.lora_b", Shape: []int{t.Shape[0], r}, DType: weights.F32, Data: f32Bytes(B)})
	}
	name := base.Config.Name
	if name == "" {
		name = "whisperc"
	}
	kvs := []gguf.KV{
		{Key: "general.architecture", Value: "llama"},
		{Key: "general.type", Value: "adapter"},
		{Key: "general.name", Value: name + " adapter"},
		{Key: "general.alignment", Value: uint32(gguf.Alignment)},
		{Key: "adapter.type", Value: "lora"},
		{Key: "adapter.lora.alpha", Value: alpha},
	}
	return gguf.Write(w, kvs, ts)
}

// Modelfile returns an Ollama Modelfile for the model file (and adapter
// file, when not empty) in the same folder.
func Modelfile(model, adapter string, o Options, ctx int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by whisperc for %s. Create the Ollama model with:\n#   ollama create %s -f Modelfile\n", o.Name, ollamaName(o.Name))
	fmt.Fprintf(&b, "FROM ./%s\n", model)
	if adapter != "" {
		fmt.Fprintf(&b, "ADAPTER ./%s\n", adapter)
	}
	fmt.Fprintf(&b, "TEMPLATE \"\"\"%s\"\"\"\n", o.Template.Ollama)
	if ctx > 0 {
		fmt.Fprintf(&b, "PARAMETER num_ctx %d\n", ctx)
	}
	if o.Template.Stop != "" {
		fmt.Fprintf(&b, "PARAMETER stop %q\n", o.Template.Stop)
	}
	if o.System != "" {
		fmt.Fprintf(&b, "SYSTEM \"\"\"%s\"\"\"\n", strings.ReplaceAll(o.System, `"""`, `" " "`))
	}
	return b.String()
}

// ollamaName lower-cases a name into Ollama's model-name alphabet.
func ollamaName(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "model"
	}
	return b.String()
}

// atomicWrite writes path through a temporary file in its folder, synced
// and renamed over path, so that readers never see a partial file.
func atomicWrite(path string, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		return fmt.Errorf("export: writing %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("export: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	return nil
}

// f32Bytes returns v's little-endian bytes.
func f32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		u := math.Float32bits(x)
		b[4*i], b[4*i+1], b[4*i+2], b[4*i+3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
	}
	return b
}
