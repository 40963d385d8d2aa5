package serve

import (
	"context"
	"fmt"
	"math"

	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/format/quant"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// linear is one projection: fp32 weights [rows, cols], or a quantised
// matrix of the same shape.
type linear struct {
	w          []float32
	q          *kernels.QMatrix
	rows, cols int
}

// apply computes out = x·Wᵀ for n rows of x: one matrix-matrix pass over
// the weights for every row of the batch.
func (l *linear) apply(e kernels.Exec, out, x []float32, n int) error {
	if l.q != nil {
		return e.QMatMul(out[:n*l.rows], x[:n*l.cols], l.q, n)
	}
	return e.MatMul(out[:n*l.rows], x[:n*l.cols], l.w, n, l.rows, l.cols)
}

func (l *linear) bytes() int64 {
	if l.q != nil {
		return int64(l.q.Bytes())
	}
	return 4 * int64(len(l.w))
}

type layer struct {
	attNorm, ffnNorm           []float32
	wq, wk, wv, wo, w1, w2, w3 linear
}

// model is a Llama-family model prepared for batched decoding: the rows
// of every sequence in a step go through each weight matrix together, and
// each sequence attends to its own KV cache.
type model struct {
	cfg  arch.Config
	exec kernels.Exec
	// layerAttn is each layer's attention kernel.
	layerAttn []kernels.AttnKernel
	ctx       int // positions per sequence
	eps       float32
	embL      linear // token embeddings [vocab, dim], fp32 or as stored
	layers    []layer
	norm      []float32
	cls       linear
	// cos and sin hold the rotary angles for every position and pair,
	// computed in float32 as llama2.c does (and as the engine does).
	cos, sin []float32
	bytes    int64
}

// newModel prepares ws under the engine options the plan chose (the
// attention kernel, the linear layers' format, the context and threads).
func newModel(ctx context.Context, ws *weights.Set, o engine.Options) (*model, error) {
	c := ws.Config
	hs := c.HeadSize()
	if c.Family != arch.Llama {
		return nil, fmt.Errorf("serve: %s: family %s is not supported; only llama runs", ws.Source, c.Family)
	}
	if c.Dim <= 0 || c.HiddenDim <= 0 || c.Layers <= 0 || c.Heads <= 0 || c.KVHeads <= 0 || c.Vocab <= 0 || c.MaxSeq <= 0 || hs <= 0 || hs%2 != 0 || c.Heads%c.KVHeads != 0 {
		return nil, fmt.Errorf("serve: %s: unusable architecture %+v", ws.Source, c)
	}
	m := &model{cfg: c, exec: kernels.Exec{Threads: max(o.Threads, 1)}, ctx: o.Context}
	if m.ctx <= 0 || m.ctx > c.MaxSeq {
		m.ctx = c.MaxSeq
	}
	m.eps = float32(c.NormEps)
	if m.eps <= 0 {
		m.eps = 1e-5
	}
	// weightOf returns the stored format the plan chose for a linear
	// weight, as the engine resolves Options.
	weightOf := func(name string) engine.Weight {
		if o.Weights != nil {
			return o.Weights[name]
		}
		if name == "output.weight" && !o.QuantizeHead {
			return engine.Weight{Format: engine.QuantizeNone}
		}
		return engine.Weight{Format: o.Quantize, DoubleQuant: o.Quantize == engine.QuantizeNF4 || o.Quantize == engine.QuantizeFP4}
	}
	method := func(q engine.Quantize) (kernels.Method, error) {
		switch q {
		case engine.QuantizeNone, engine.QuantizeInvalid:
			return kernels.MethodInvalid, nil
		case engine.QuantizeNF4:
			return kernels.NF4, nil
		case engine.QuantizeFP4:
			return kernels.FP4, nil
		case engine.QuantizeQ8_0:
			return kernels.Q8_0, nil
		}
		return kernels.MethodInvalid, fmt.Errorf("serve: weight format %s has no kernel", q)
	}
	m.layerAttn = make([]kernels.AttnKernel, c.Layers)
	for i := range m.layerAttn {
		a := o.Attention
		if i < len(o.LayerAttention) {
			a = o.LayerAttention[i]
		}
		m.layerAttn[i] = kernels.AttnEager
		if a == engine.AttentionFlash2 {
			m.layerAttn[i] = kernels.AttnFlash2
		}
	}
	tensor := func(name string, shape ...int) (*weights.Tensor, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t, err := ws.Get(name)
		if err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
		if !sameShape(t.Shape, shape) {
			return nil, fmt.Errorf("serve: %s: tensor %q has shape %v, want %v", ws.Source, name, t.Shape, shape)
		}
		return t, nil
	}
	// get returns a tensor's values in fp32: aliased when stored so,
	// decoded otherwise.
	get := func(name string, shape ...int) ([]float32, error) {
		t, err := tensor(name, shape...)
		if err != nil {
			return nil, err
		}
		if v, ok := t.Float32s(); ok {
			return v, nil
		}
		data, err := quant.Dequantize(t)
		if err != nil {
			return nil, fmt.Errorf("serve: %s: %w", ws.Source, err)
		}
		return data, nil
	}
	// lin holds a linear weight as the engine does: a GGML block format
	// runs as stored when no other format is asked for; otherwise fp32, or
	// quantised to the planned format.
	lin := func(name string, rows, cols int, quantise bool) (linear, error) {
		w := weightOf(name)
		target, err := method(w.Format)
		if err != nil {
			return linear{}, err
		}
		if !quantise {
			target = kernels.MethodInvalid
		}
		t, err := tensor(name, rows, cols)
		if err != nil {
			return linear{}, err
		}
		l := linear{rows: rows, cols: cols}
		if stored, ok := kernels.MethodOf(t.DType); ok && (target == kernels.MethodInvalid || target == stored) {
			if l.q, err = kernels.FromGGML(t.DType, rows, cols, t.Data); err != nil {
				return linear{}, fmt.Errorf("serve: %s: tensor %q: %w", ws.Source, name, err)
			}
			m.bytes += l.bytes()
			return l, nil
		}
		v, err := get(name, rows, cols)
		if err != nil {
			return linear{}, err
		}
		l.w = v
		if target != kernels.MethodInvalid {
			q, err := kernels.QuantizeConfig(v, rows, cols, kernels.QuantConfig{Method: target, DoubleQuant: w.DoubleQuant})
			if err != nil {
				return linear{}, fmt.Errorf("serve: quantising %s: %w", name, err)
			}
			l.w, l.q = nil, q
			ws.ReleaseData(t.Data)
		}
		m.bytes += l.bytes()
		return l, nil
	}
	var err error
	if m.embL, err = lin("tok_embeddings.weight", c.Vocab, c.Dim, false); err != nil {
		return nil, err
	}
	if m.norm, err = get("norm.weight", c.Dim); err != nil {
		return nil, err
	}
	qd, kvd := c.Heads*hs, c.KVHeads*hs
	m.layers = make([]layer, c.Layers)
	for i := range m.layers {
		p := fmt.Sprintf("layers.%d.", i)
		L := &m.layers[i]
		if L.attNorm, err = get(p+"attention_norm.weight", c.Dim); err != nil {
			return nil, err
		}
		if L.ffnNorm, err = get(p+"ffn_norm.weight", c.Dim); err != nil {
			return nil, err
		}
		for _, s := range []struct {
			dst        *linear
			name       string
			rows, cols int
		}{
			{&L.wq, "attention.wq.weight", qd, c.Dim},
			{&L.wk, "attention.wk.weight", kvd, c.Dim},
			{&L.wv, "attention.wv.weight", kvd, c.Dim},
			{&L.wo, "attention.wo.weight", c.Dim, qd},
			{&L.w1, "feed_forward.w1.weight", c.HiddenDim, c.Dim},
			{&L.w2, "feed_forward.w2.weight", c.Dim, c.HiddenDim},
			{&L.w3, "feed_forward.w3.weight", c.HiddenDim, c.Dim},
		} {
			if *s.dst, err = lin(p+s.name, s.rows, s.cols, true); err != nil {
				return nil, err
			}
		}
		m.bytes += 8 * int64(c.Dim)
	}
	m.bytes += 4 * int64(c.Dim)
	headFormat, err := method(weightOf("output.weight").Format)
	if err != nil {
		return nil, err
	}
	switch {
	case c.Tied && headFormat == kernels.MethodInvalid:
		m.cls = m.embL
	case c.Tied:
		v := m.embL.w
		if v == nil {
			if v, err = get("tok_embeddings.weight", c.Vocab, c.Dim); err != nil {
				return nil, err
			}
		}
		q, err := kernels.QuantizeConfig(v, c.Vocab, c.Dim, kernels.QuantConfig{Method: headFormat, DoubleQuant: weightOf("output.weight").DoubleQuant})
		if err != nil {
			return nil, fmt.Errorf("serve: quantising the classifier: %w", err)
		}
		m.cls = linear{q: q, rows: c.Vocab, cols: c.Dim}
		m.bytes += m.cls.bytes()
	default:
		if m.cls, err = lin("output.weight", c.Vocab, c.Dim, true); err != nil {
			return nil, err
		}
	}
	theta := c.RopeTheta
	if theta <= 0 {
		theta = 10000
	}
	half := hs / 2
	m.cos = make([]float32, m.ctx*half)
	m.sin = make([]float32, m.ctx*half)
	for i := range half {
		freq := 1 / float32(math.Pow(theta, float64(float32(2*i)/float32(hs))))
		for p := range m.ctx {
			v := float32(p) * freq
			m.cos[p*half+i] = float32(math.Cos(float64(v)))
			m.sin[p*half+i] = float32(math.Sin(float64(v)))
		}
	}
	return m, nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// kvBytesPerPosition returns the bytes one position of one sequence takes
// in the KV cache: keys and values of every layer, in float32.
func kvBytesPerPosition(c arch.Config) int64 {
	return int64(c.Layers) * 2 * int64(c.KVHeads*c.HeadSize()) * 4
}

// part is one sequence's share of a batched step: tokens at positions
// [pos, pos+len(tokens)) written into the cache kv. logits is where the
// logits after the last token go, or nil when the step only fills the
// cache (a prompt chunk that is not the prompt's last).
type part struct {
	kv     *kvCache
	tokens []int
	pos    int
	logits []float32
}

// scratch holds a step's activations, sized once for the most rows a step
// may have.
type scratch struct {
	rows                  int
	x, xb, q, k, v, att   []float32
	h1, h3, last, lastOut []float32
}

func (m *model) newScratch(rows, seqs int) *scratch {
	c := m.cfg
	hs := c.HeadSize()
	qd, kvd := c.Heads*hs, c.KVHeads*hs
	return &scratch{rows: rows,
		x: make([]float32, rows*c.Dim), xb: make([]float32, rows*max(c.Dim, qd)),
		q: make([]float32, rows*qd), k: make([]float32, rows*kvd), v: make([]float32, rows*kvd),
		att: make([]float32, rows*qd), h1: make([]float32, rows*c.HiddenDim), h3: make([]float32, rows*c.HiddenDim),
		last: make([]float32, seqs*c.Dim), lastOut: make([]float32, seqs*c.Vocab)}
}

// kvCache is one sequence slot's keys and values, [layers][ctx·kvd].
type kvCache struct {
	k, v [][]float32
}

func (m *model) newKV() *kvCache {
	c := m.cfg
	kvd := c.KVHeads * c.HeadSize()
	kv := &kvCache{k: make([][]float32, c.Layers), v: make([][]float32, c.Layers)}
	for l := range c.Layers {
		kv.k[l] = make([]float32, m.ctx*kvd)
		kv.v[l] = make([]float32, m.ctx*kvd)
	}
	return kv
}

// copyPrefix copies the first n positions of src into dst.
func (m *model) copyPrefix(dst, src *kvCache, n int) {
	kvd := m.cfg.KVHeads * m.cfg.HeadSize()
	for l := range dst.k {
		copy(dst.k[l][:n*kvd], src.k[l][:n*kvd])
		copy(dst.v[l][:n*kvd], src.v[l][:n*kvd])
	}
}

// forward runs one batched step: the rows of every part go through each
// weight matrix in one matrix-matrix product, each part attends to its own
// cache, and the logits after each part's last row are written to its
// logits slice when it has one.
func (m *model) forward(parts []part, s *scratch) error {
	c, e := m.cfg, m.exec
	dim, hs := c.Dim, c.HeadSize()
	qd, kvd := c.Heads*hs, c.KVHeads*hs
	n := 0
	for _, p := range parts {
		if len(p.tokens) == 0 || p.pos < 0 || p.pos+len(p.tokens) > m.ctx {
			return fmt.Errorf("serve: %d tokens at position %d do not fit the context of %d", len(p.tokens), p.pos, m.ctx)
		}
		for _, t := range p.tokens {
			if t < 0 || t >= c.Vocab {
				return fmt.Errorf("serve: token %d is outside the vocabulary of %d", t, c.Vocab)
			}
		}
		n += len(p.tokens)
	}
	if n > s.rows {
		return fmt.Errorf("serve: a step of %d rows exceeds the %d the scratch holds", n, s.rows)
	}
	r := 0
	for _, p := range parts {
		for _, t := range p.tokens {
			m.embed(s.x[r*dim:(r+1)*dim], t)
			r++
		}
	}
	x, xb := s.x[:n*dim], s.xb[:n*max(dim, qd)]
	for li := range m.layers {
		L := &m.layers[li]
		for r := range n {
			m.rmsnorm(xb[r*dim:(r+1)*dim], x[r*dim:(r+1)*dim], L.attNorm)
		}
		if err := L.wq.apply(e, s.q, xb, n); err != nil {
			return err
		}
		if err := L.wk.apply(e, s.k, xb, n); err != nil {
			return err
		}
		if err := L.wv.apply(e, s.v, xb, n); err != nil {
			return err
		}
		r := 0
		for _, p := range parts {
			for i := range p.tokens {
				m.rope(s.q[r*qd:(r+1)*qd], p.pos+i)
				m.rope(s.k[r*kvd:(r+1)*kvd], p.pos+i)
				r++
			}
		}
		r = 0
		for _, p := range parts {
			t := len(p.tokens)
			copy(p.kv.k[li][p.pos*kvd:(p.pos+t)*kvd], s.k[r*kvd:(r+t)*kvd])
			copy(p.kv.v[li][p.pos*kvd:(p.pos+t)*kvd], s.v[r*kvd:(r+t)*kvd])
			sh := kernels.AttnShape{N: t, Pos: p.pos, Heads: c.Heads, KVHeads: c.KVHeads, HeadDim: hs}
			if err := e.AttentionForward(m.layerAttn[li], s.att[r*qd:(r+t)*qd], nil, s.q[r*qd:(r+t)*qd], p.kv.k[li], p.kv.v[li], sh); err != nil {
				return err
			}
			r += t
		}
		if err := L.wo.apply(e, xb, s.att, n); err != nil {
			return err
		}
		for i := range x {
			x[i] += xb[i]
		}
		for r := range n {
			m.rmsnorm(xb[r*dim:(r+1)*dim], x[r*dim:(r+1)*dim], L.ffnNorm)
		}
		if err := L.w1.apply(e, s.h1, xb, n); err != nil {
			return err
		}
		if err := L.w3.apply(e, s.h3, xb, n); err != nil {
			return err
		}
		h1, h3 := s.h1[:n*c.HiddenDim], s.h3[:n*c.HiddenDim]
		for i, a := range h1 {
			h1[i] = a / (1 + float32(math.Exp(float64(-a)))) * h3[i]
		}
		if err := L.w2.apply(e, xb, h1, n); err != nil {
			return err
		}
		for i := range x {
			x[i] += xb[i]
		}
	}
	// Only each part's last row needs logits.
	k, r := 0, 0
	for _, p := range parts {
		r += len(p.tokens)
		if p.logits != nil {
			m.rmsnorm(s.last[k*dim:(k+1)*dim], x[(r-1)*dim:r*dim], m.norm)
			k++
		}
	}
	if k == 0 {
		return nil
	}
	if err := m.cls.apply(e, s.lastOut, s.last, k); err != nil {
		return err
	}
	k = 0
	for _, p := range parts {
		if p.logits != nil {
			copy(p.logits, s.lastOut[k*c.Vocab:(k+1)*c.Vocab])
			k++
		}
	}
	return nil
}

// rmsnorm writes w·x/√(mean(x²)+eps) into dst, in float32 as llama2.c.
func (m *model) rmsnorm(dst, x, w []float32) {
	var ss float32
	for _, v := range x {
		ss += v * v
	}
	ss /= float32(len(x))
	ss += m.eps
	inv := 1 / float32(math.Sqrt(float64(ss)))
	for i, v := range x {
		dst[i] = w[i] * (inv * v)
	}
}

// rope rotates each head of row (adjacent pairs, llama2.c's layout) to
// position pos.
func (m *model) rope(row []float32, pos int) {
	hs := m.cfg.HeadSize()
	half := hs / 2
	cs, sn := m.cos[pos*half:(pos+1)*half], m.sin[pos*half:(pos+1)*half]
	for h := 0; h < len(row); h += hs {
		for i := range half {
			v0, v1 := row[h+2*i], row[h+2*i+1]
			row[h+2*i] = v0*cs[i] - v1*sn[i]
			row[h+2*i+1] = v0*sn[i] + v1*cs[i]
		}
	}
}

// embed writes token t's embedding into dst.
func (m *model) embed(dst []float32, t int) {
	if q := m.embL.q; q != nil {
		// t is checked by forward; the row is in range.
		_ = q.DequantizeRow(dst, t)
		return
	}
	d := m.cfg.Dim
	copy(dst, m.embL.w[t*d:(t+1)*d])
}
