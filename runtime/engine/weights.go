package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"unsafe"

	"gorgonia.org/tensor"

	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// load takes the tensors named in want (name → shape) from ws, one at a
// time, so that at most one tensor's fp32 copy exists at once:
//
//   - fp32 matrices are used in place (they alias the memory-mapped
//     file), fp32 vectors are copied (loadDense says why), and other
//     unquantised dtypes are decoded to fp32;
//   - a linear weight stored in a GGML block format (Q8_0, Q4_0, Q4_K, ...)
//     runs as stored, aliasing the file, when Options.Weights says fp32 or
//     names that very format; when those weights come to 4 MiB or more
//     they are then copied to huge pages and the file's pages released
//     (onHugePages);
//   - otherwise a linear weight is quantised to its Options.Weights format from its
//     fp32 values (aliased, or decoded into a buffer dropped right after),
//     straight into one kernels.HugeArena sized beforehand for all of
//     them (quantArena), so that those weights too are streamed from huge
//     pages without ever being held twice;
//   - token embeddings stored in a block format stay so, and each lookup
//     decodes one row. A tied classifier is the embedding matrix; when
//     Options.Weights quantises output.weight it is quantised under that name.
func (e *Engine) load(ctx context.Context, ws *weights.Set, want map[string][]int) error {
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	ts := make(map[string]*weights.Tensor, len(names))
	for _, name := range names {
		t, err := ws.Get(name)
		if err != nil {
			return fmt.Errorf("engine: %w", err)
		}
		if !sameShape(t.Shape, want[name]) {
			return fmt.Errorf("engine: %s: tensor %q has shape %v, want %v", ws.Source, name, t.Shape, want[name])
		}
		ts[name] = t
	}
	if e.cfg.Tied {
		ts["output.weight"] = ts["tok_embeddings.weight"]
		names = append(names, "output.weight")
	}
	arena := e.quantArena(names, ts)
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		t := ts[name]
		var err error
		switch {
		case len(t.Shape) == 1:
			err = e.loadDense(name, t)
		case name == "tok_embeddings.weight":
			err = e.loadEmbeddings(t)
		default:
			err = e.loadLinear(ws, name, t, arena)
		}
		if err != nil {
			return fmt.Errorf("engine: %s: %w", ws.Source, err)
		}
	}
	arena.Seal()
	e.onHugePages(ws, names, ts)
	return nil
}

// quantArena returns the arena for the linear weights that load quantises
// itself (see loadLinear), sized from their shapes and formats so that
// each is quantised straight into it, one tensor at a time. Where the
// arena is off (under 4 MiB, no transparent huge pages) each quantised
// matrix gets its own buffer, as before.
func (e *Engine) quantArena(names []string, ts map[string]*weights.Tensor) *kernels.HugeArena {
	var lens []int
	for _, name := range names {
		t := ts[name]
		if len(t.Shape) != 2 || name == "tok_embeddings.weight" {
			continue
		}
		w := e.opts.Weights[name]
		target := method(w.Format)
		if stored, ok := kernels.MethodOf(t.DType); target == kernels.MethodInvalid || ok && target == stored {
			continue
		}
		lens = append(lens, kernels.QuantizedLens(t.Shape[0], t.Shape[1], quantConfig(w))...)
	}
	return kernels.NewHugeArena(kernels.HugeArenaSize(lens...))
}

// quantConfig is how loadLinear quantises a weight of format w.
func quantConfig(w Weight) kernels.QuantConfig {
	return kernels.QuantConfig{Method: method(w.Format), DoubleQuant: w.DoubleQuant}
}

// onHugePages moves the weights kept in a GGML block format, which alias
// the mapped file, into one kernels.HugeArena (memory on 2 MiB pages),
// releasing each one's file pages once copied, so that the resident set
// stays the same: a decode step streams every weight, and the kernels
// stream them 1.2-1.5x faster per CPU-second on huge pages than on the
// file's 4 KiB ones (kernels.BenchmarkIntDecodeHuge). Where the system has
// no transparent huge pages nothing moves.
func (e *Engine) onHugePages(ws *weights.Set, names []string, ts map[string]*weights.Tensor) {
	seen := map[*kernels.QMatrix]bool{}
	var qs []*kernels.QMatrix
	var lens []int
	for _, name := range names {
		q, t := e.quant[name], ts[name]
		if name == "tok_embeddings.weight" {
			q = e.embQ
		}
		if q == nil || seen[q] || len(q.Data) == 0 || len(t.Data) == 0 || &q.Data[0] != &t.Data[0] {
			continue // not a block matrix aliasing the file, or moved already
		}
		seen[q] = true
		qs = append(qs, q)
		lens = append(lens, len(q.Data))
	}
	a := kernels.NewHugeArena(kernels.HugeArenaSize(lens...))
	for _, q := range qs {
		if old := q.Data; a.Copy(q) {
			ws.ReleaseData(old)
		}
	}
	a.Seal()
}

// fp32 returns t's values as float32: aliased when t is F32 in place,
// decoded otherwise. fresh reports a decoded copy.
func fp32(t *weights.Tensor) (v []float32, fresh bool, err error) {
	if v, ok := t.Float32s(); ok {
		return v, false, nil
	}
	v, err = quant.Dequantize(t)
	return v, true, err
}

// loadDense keeps t as an fp32 tensor of the graph.
func (e *Engine) loadDense(name string, t *weights.Tensor) error {
	v, fresh, err := fp32(t)
	if err != nil {
		return err
	}
	if fresh {
		if e.decoded == nil {
			e.decoded = map[string]bool{}
		}
		e.decoded[name] = true
	} else if len(t.Shape) == 1 {
		// A vector (a norm's scale) is read by every step. Left in the
		// mapped file, once the file's matrices are released (quantised
		// at load, or moved to huge pages) each read faults its page
		// back in, and the kernel maps the whole page-cache folio around
		// it, up to 2 MiB of the released neighbours: a 110M GGUF Q8_0
		// model had 42 MB of its file resident again during decode for
		// its 25 norms (peak RSS 224 MiB against 180 before the move,
		// and a plan of 177). The copies are a few KiB each.
		v = append([]float32(nil), v...)
	}
	e.tensors[name] = tensor.New(tensor.WithShape(t.Shape...), tensor.WithBacking(v))
	e.bytes += int64(len(v)) * 4
	return nil
}

// loadEmbeddings keeps the token embeddings for lookups: as stored when in
// a GGML block format, else in fp32.
func (e *Engine) loadEmbeddings(t *weights.Tensor) error {
	if _, ok := kernels.MethodOf(t.DType); ok {
		q, err := kernels.FromGGML(t.DType, t.Shape[0], t.Shape[1], t.Data)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		e.embQ = q
		e.bytes += int64(q.Bytes())
		return nil
	}
	if err := e.loadDense("tok_embeddings.weight", t); err != nil {
		return err
	}
	e.emb = e.tensors["tok_embeddings.weight"].Float32s()
	return nil
}

// method returns the kernel format of a stored format, or
// MethodInvalid for fp32.
func method(q Quantize) kernels.Method {
	switch q {
	case QuantizeNF4:
		return kernels.NF4
	case QuantizeFP4:
		return kernels.FP4
	case QuantizeQ8_0:
		return kernels.Q8_0
	case QuantizeBF16:
		return kernels.BF16
	}
	return kernels.MethodInvalid
}

// loadLinear holds the linear weight t under name (see load); a weight it
// quantises goes into arena where that has room.
func (e *Engine) loadLinear(ws *weights.Set, name string, t *weights.Tensor, arena *kernels.HugeArena) error {
	w := e.opts.Weights[name]
	target := method(w.Format)
	rows, cols := t.Shape[0], t.Shape[1]
	stored, block := kernels.MethodOf(t.DType)
	if block && (w.Format == QuantizeNone || w.Format == stored) {
		if name == "output.weight" && e.embQ != nil && e.cfg.Tied {
			e.quant[name] = e.embQ // the same bytes, counted once
			return nil
		}
		q, err := kernels.FromGGML(t.DType, rows, cols, t.Data)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		e.quant[name] = q
		e.bytes += int64(q.Bytes())
		return nil
	}
	if target == kernels.MethodInvalid && w.Format != QuantizeNone {
		// Q4_0, Q4_K and the other GGML block formats run only as a
		// file stores them: never kept in another format in their name.
		return fmt.Errorf("tensor %q is stored as %v, and the engine quantises only into nf4, fp4, q8_0 and bf16: %v runs only as a GGUF file stores it", t.Name, t.DType, w.Format)
	}
	if target == kernels.MethodInvalid {
		if name == "output.weight" && e.cfg.Tied {
			e.tensors[name] = e.tensors["tok_embeddings.weight"]
			return nil
		}
		return e.loadDense(name, t)
	}
	v := e.emb
	if name != "output.weight" || !e.cfg.Tied || e.emb == nil {
		var err error
		if v, _, err = fp32(t); err != nil {
			return err
		}
	}
	cfg := quantConfig(w)
	cfg.Data = arena.Alloc(kernels.QuantizedLens(rows, cols, cfg)[0])
	q, err := e.quantize(ws, t, v, rows, cols, cfg)
	if err != nil {
		return fmt.Errorf("quantising %s to %s: %w", name, w.Format, err)
	}
	arena.CopyScales(q)
	if target == kernels.BF16 {
		// The engine's own bytes, which bf16 training may update in
		// place: the source is kept to round again for a rollback.
		if e.bf16Src == nil {
			e.bf16Src = map[string]*weights.Tensor{}
		}
		e.bf16Src[name] = t
	}
	e.quant[name] = q
	e.bytes += int64(q.Bytes())
	// Only the quantised copy is multiplied from now on: let the mapped
	// file's pages go, so the resident set holds each weight once. A tied
	// classifier's source is the embedding matrix, which lookups still
	// read, a row per token: those rows fault back in from the file.
	ws.ReleaseData(t.Data)
	return nil
}

// slabBytes is how much of a source tensor's fp32 values quantize reads
// before releasing their pages.
const slabBytes = 8 << 20

// quantize quantises v, the fp32 values of t (aliased or decoded), shaped
// [rows, cols]. Q8_0 blocks never straddle rows when cols is a multiple of
// 32, so a large Q8_0 matrix (a classifier of 32k rows is 98 MB in fp32)
// is quantised a slab of rows at a time and each slab's mapped pages are
// released as soon as it is done: the resident set never holds the whole
// fp32 source beside its quantised copy. cfg.Data, when it has room,
// receives the result.
func (e *Engine) quantize(ws *weights.Set, t *weights.Tensor, v []float32, rows, cols int, cfg kernels.QuantConfig) (*kernels.QMatrix, error) {
	slab := max(slabBytes/(4*max(cols, 1)), 1)
	if cfg.Method != kernels.Q8_0 || cols%kernels.BlockQ8_0 != 0 || rows <= slab {
		return e.exec.QuantizeConfig(v, rows, cols, cfg)
	}
	rowBytes := cols / kernels.BlockQ8_0 * (2 + kernels.BlockQ8_0)
	data := cfg.Data
	if cap(data) < rows*rowBytes {
		data = make([]byte, rows*rowBytes)
	}
	out := &kernels.QMatrix{Method: kernels.Q8_0, Rows: rows, Cols: cols, BlockSize: kernels.BlockQ8_0, Data: data[:rows*rowBytes]}
	aliased := len(t.Data) == 4*len(v) && len(v) > 0 && &t.Data[0] == (*byte)(unsafe.Pointer(&v[0]))
	for r0 := 0; r0 < rows; r0 += slab {
		r1 := min(r0+slab, rows)
		cfg.Data = out.Data[r0*rowBytes : r1*rowBytes]
		if _, err := e.exec.QuantizeConfig(v[r0*cols:r1*cols], r1-r0, cols, cfg); err != nil {
			var nf *kernels.NonFiniteError
			if errors.As(err, &nf) {
				nf.Row += r0
			}
			return nil, err
		}
		if aliased {
			ws.ReleaseData(t.Data[4*r0*cols : 4*r1*cols])
		}
	}
	return out, nil
}

// embedRow writes token tok's embedding into dst (Dim values).
func (e *Engine) embedRow(dst []float32, tok int) {
	d := e.cfg.Dim
	if e.embQ != nil {
		// tok and dst are checked by the callers; the row is in range.
		_ = e.embQ.DequantizeRow(dst, tok)
		return
	}
	copy(dst, e.emb[tok*d:(tok+1)*d])
}
