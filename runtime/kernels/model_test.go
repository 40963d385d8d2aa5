package kernels_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/modelwhisperer/whisperc/internal/testmodels"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/runtime/format/llama2c"
	"github.com/modelwhisperer/whisperc/runtime/kernels"
	"github.com/modelwhisperer/whisperc/runtime/tokenizer"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// modelsDir returns ../shared/models relative to the repository root, or
// skips the test when it is absent.

// linear is one weight matrix, fp32 or quantised.
type linear struct {
	w          []float32
	q          *kernels.QMatrix
	rows, cols int
}

func (l *linear) apply(e kernels.Exec, out, x []float32, n int) error {
	if l.q != nil {
		return e.QMatMul(out, x, l.q, n)
	}
	return e.MatMul(out, x, l.w, n, l.rows, l.cols)
}

// refModel is a minimal Llama forward pass in the style of llama2.c's
// run.c, built on this package's kernels. It is a test reference for the
// kernels and for the quality cost of quantisation, not the engine.
type refModel struct {
	c                arch.Config
	emb, norm        []float32
	cls              *linear // the classifier, tied to the embedding
	attNorm, ffnNorm [][]float32
	wq, wk, wv, wo   []*linear
	w1, w2, w3       []*linear
	kc, vc           [][]float32
	attn             kernels.AttnKernel
	exec             kernels.Exec
}

func tensorF32(t testing.TB, s *weights.Set, name string) []float32 {
	t.Helper()
	tt, err := s.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	if tt.DType != weights.F32 {
		t.Fatalf("%s is %v, want f32", name, tt.DType)
	}
	out := make([]float32, len(tt.Data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(tt.Data[4*i:]))
	}
	return out
}

// loadRef loads stories260K with its linear layers quantised by method
// (MethodInvalid keeps fp32). The tied classifier (the token embedding)
// stays fp32, as QLoRA keeps embeddings and the output layer unquantised.
func loadRef(t testing.TB, method kernels.Method) (*refModel, *tokenizer.BPE) {
	t.Helper()
	dir := filepath.Dir(testmodels.Path(t, "stories260K.bin"))
	s, err := llama2c.Open(filepath.Join(dir, "stories260K.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if s.Close != nil {
			s.Close()
		}
	}()
	tok, err := tokenizer.ReadLlama2CFile(filepath.Join(dir, "tok512.bin"), s.Config.Vocab)
	if err != nil {
		t.Fatal(err)
	}
	return buildRef(t, s.Config, method, false, func(name string) []float32 { return tensorF32(t, s, name) }), tok
}

// buildRef assembles a refModel from the named fp32 tensors get returns;
// quantHead quantises the tied classifier too.
func buildRef(t testing.TB, c arch.Config, method kernels.Method, quantHead bool, get func(name string) []float32) *refModel {
	t.Helper()
	m := &refModel{c: c, attn: kernels.AttnFlash2}
	m.emb = get("tok_embeddings.weight")
	m.norm = get("norm.weight")
	lin := func(name string, rows, cols int) *linear {
		w := get(name)
		l := &linear{w: w, rows: rows, cols: cols}
		if method != kernels.MethodInvalid {
			q, err := kernels.Quantize(w, rows, cols, method)
			if err != nil {
				t.Fatal(err)
			}
			l.q, l.w = q, nil
		}
		return l
	}
	m.cls = &linear{w: m.emb, rows: c.Vocab, cols: c.Dim}
	if quantHead && method != kernels.MethodInvalid {
		q, err := kernels.Quantize(m.emb, c.Vocab, c.Dim, method)
		if err != nil {
			t.Fatal(err)
		}
		m.cls = &linear{q: q, rows: c.Vocab, cols: c.Dim}
	}
	hs := c.HeadSize()
	kvd := c.KVHeads * hs
	for l := 0; l < c.Layers; l++ {
		p := fmt.Sprintf("layers.%d.", l)
		m.attNorm = append(m.attNorm, get(p+"attention_norm.weight"))
		m.ffnNorm = append(m.ffnNorm, get(p+"ffn_norm.weight"))
		m.wq = append(m.wq, lin(p+"attention.wq.weight", c.Heads*hs, c.Dim))
		m.wk = append(m.wk, lin(p+"attention.wk.weight", kvd, c.Dim))
		m.wv = append(m.wv, lin(p+"attention.wv.weight", kvd, c.Dim))
		m.wo = append(m.wo, lin(p+"attention.wo.weight", c.Dim, c.Heads*hs))
		m.w1 = append(m.w1, lin(p+"feed_forward.w1.weight", c.HiddenDim, c.Dim))
		m.w2 = append(m.w2, lin(p+"feed_forward.w2.weight", c.Dim, c.HiddenDim))
		m.w3 = append(m.w3, lin(p+"feed_forward.w3.weight", c.HiddenDim, c.Dim))
		m.kc = append(m.kc, make([]float32, c.MaxSeq*kvd))
		m.vc = append(m.vc, make([]float32, c.MaxSeq*kvd))
	}
	return m
}

func rmsnorm(out, x, w []float32) {
	var ss float32
	for _, v := range x {
		ss += v * v
	}
	ss = ss/float32(len(x)) + 1e-5
	ss = 1 / float32(math.Sqrt(float64(ss)))
	for i := range out {
		out[i] = w[i] * (ss * x[i])
	}
}

// rope rotates the interleaved pairs of each head of row, at position pos,
// as llama2.c does (single-precision frequencies).
func rope(row []float32, pos, hs int, theta float64) {
	for i := 0; i < len(row); i += 2 {
		hd := i % hs
		freq := float32(1 / math.Pow(theta, float64(float32(hd)/float32(hs))))
		val := float32(pos) * freq
		fcr, fci := float32(math.Cos(float64(val))), float32(math.Sin(float64(val)))
		v0, v1 := row[i], row[i+1]
		row[i] = v0*fcr - v1*fci
		row[i+1] = v0*fci + v1*fcr
	}
}

// forward runs tokens at positions [pos, pos+len(tokens)) through the model,
// filling the KV cache, and returns their logits, [len(tokens), vocab].
func (m *refModel) forward(tokens []int, pos int) ([]float32, error) {
	c, e := m.c, m.exec
	n, dim, hs := len(tokens), c.Dim, c.HeadSize()
	qd, kvd := c.Heads*hs, c.KVHeads*hs
	theta := c.RopeTheta
	if theta == 0 {
		theta = 10000
	}
	x := make([]float32, n*dim)
	for r, t := range tokens {
		if t < 0 || t >= c.Vocab {
			return nil, fmt.Errorf("token %d out of range", t)
		}
		copy(x[r*dim:(r+1)*dim], m.emb[t*dim:(t+1)*dim])
	}
	xb := make([]float32, n*dim)
	q := make([]float32, n*qd)
	k := make([]float32, n*kvd)
	v := make([]float32, n*kvd)
	att := make([]float32, n*qd)
	h1 := make([]float32, n*c.HiddenDim)
	h3 := make([]float32, n*c.HiddenDim)
	for l := 0; l < c.Layers; l++ {
		for r := 0; r < n; r++ {
			rmsnorm(xb[r*dim:(r+1)*dim], x[r*dim:(r+1)*dim], m.attNorm[l])
		}
		for _, p := range []struct {
			l   *linear
			out []float32
		}{{m.wq[l], q}, {m.wk[l], k}, {m.wv[l], v}} {
			if err := p.l.apply(e, p.out, xb, n); err != nil {
				return nil, err
			}
		}
		for r := 0; r < n; r++ {
			rope(q[r*qd:(r+1)*qd], pos+r, hs, theta)
			rope(k[r*kvd:(r+1)*kvd], pos+r, hs, theta)
		}
		copy(m.kc[l][pos*kvd:], k)
		copy(m.vc[l][pos*kvd:], v)
		s := kernels.AttnShape{N: n, Pos: pos, Heads: c.Heads, KVHeads: c.KVHeads, HeadDim: hs}
		if err := e.AttentionForward(m.attn, att, nil, q, m.kc[l], m.vc[l], s); err != nil {
			return nil, err
		}
		if err := m.wo[l].apply(e, xb, att, n); err != nil {
			return nil, err
		}
		for i := range x {
			x[i] += xb[i]
		}
		for r := 0; r < n; r++ {
			rmsnorm(xb[r*dim:(r+1)*dim], x[r*dim:(r+1)*dim], m.ffnNorm[l])
		}
		if err := m.w1[l].apply(e, h1, xb, n); err != nil {
			return nil, err
		}
		if err := m.w3[l].apply(e, h3, xb, n); err != nil {
			return nil, err
		}
		for i, a := range h1 {
			h1[i] = a / (1 + float32(math.Exp(float64(-a)))) * h3[i]
		}
		if err := m.w2[l].apply(e, xb, h1, n); err != nil {
			return nil, err
		}
		for i := range x {
			x[i] += xb[i]
		}
	}
	for r := 0; r < n; r++ {
		rmsnorm(xb[r*dim:(r+1)*dim], x[r*dim:(r+1)*dim], m.norm)
	}
	logits := make([]float32, n*c.Vocab)
	return logits, m.cls.apply(e, logits, xb, n)
}

func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// TestReferenceForwardMatchesLlama2c checks the reference forward pass (and
// so the kernels under it) against llama2.c: greedy decoding of stories260K
// from BOS must begin with the story the models README quotes.
func TestReferenceForwardMatchesLlama2c(t *testing.T) {
	m, tok := loadRef(t, kernels.MethodInvalid)
	prev, out := tok.BOS(), []byte{}
	for pos := 0; pos < 40; pos++ {
		logits, err := m.forward([]int{prev}, pos)
		if err != nil {
			t.Fatal(err)
		}
		next := argmax(logits)
		out = append(out, tok.Decode(prev, next)...)
		prev = next
	}
	const want = "Once upon a time, there was a little girl named Lily."
	if len(out) < len(want) || string(out[:len(want)]) != want {
		t.Fatalf("greedy output %q, want it to begin %q", out, want)
	}
}

// TestPrefillMatchesDecode checks that one flash2 prefill of a sequence
// gives the logits of eager token-by-token decoding against the KV cache.
func TestPrefillMatchesDecode(t *testing.T) {
	m, tok := loadRef(t, kernels.MethodInvalid)
	ids := tok.Encode(heldOut[0], true, false)
	pre, err := m.forward(ids, 0)
	if err != nil {
		t.Fatal(err)
	}
	m.attn = kernels.AttnEager
	V := m.c.Vocab
	var worst float64
	for pos, id := range ids {
		step, err := m.forward([]int{id}, pos)
		if err != nil {
			t.Fatal(err)
		}
		for i, x := range step {
			worst = math.Max(worst, math.Abs(float64(x-pre[pos*V+i])))
		}
	}
	if worst > 1e-3 {
		t.Errorf("prefill and decode logits differ by up to %g", worst)
	}
	t.Logf("%d positions, largest logit difference %.2g", len(ids), worst)
}

// heldOut is text written for this test in the style of TinyStories (it is
// not from the training set): short stories a 260K-parameter model can
// model somewhat.
var heldOut = []string{
	"Once upon a time, there was a little boy named Tim. Tim liked to play with his red ball in the park. One day, the ball rolled into a big puddle. Tim was sad. His mom came and said, \"Do not be sad, Tim. We can wash the ball.\" They went home and washed the ball with warm water. Tim was happy again and said, \"Thank you, mom!\"",
	"One day, a small cat named Mia saw a bird in the tree. Mia wanted to play with the bird, but the bird was scared. Mia sat under the tree and waited. The bird looked at Mia and saw that she was kind. The bird flew down and sat next to Mia. They became good friends and played in the sun every day.",
	"Lily and Ben went to the beach with their dad. They made a big sand castle near the water. A wave came and broke the castle. Ben started to cry. Lily hugged him and said, \"Let's make a new one, a bigger one!\" They worked hard and made the best castle ever. Dad took a picture and they all smiled.",
}

// perplexity returns the held-out perplexity of the model.
func perplexity(t testing.TB, m *refModel, tok *tokenizer.BPE) float64 {
	t.Helper()
	var logits []float32
	var targets []int
	for _, text := range heldOut {
		ids := tok.Encode(text, true, false)
		l, err := m.forward(ids[:len(ids)-1], 0)
		if err != nil {
			t.Fatal(err)
		}
		logits = append(logits, l...)
		targets = append(targets, ids[1:]...)
	}
	p, err := kernels.Perplexity(logits, m.c.Vocab, targets)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestQuantizationPerplexity measures the quality cost of each format on
// stories260K: held-out perplexity with every linear layer quantised.
func TestQuantizationPerplexity(t *testing.T) {
	ppl := map[kernels.Method]float64{}
	for _, m := range []kernels.Method{kernels.MethodInvalid, kernels.Q8_0, kernels.NF4, kernels.FP4} {
		model, tok := loadRef(t, m)
		ppl[m] = perplexity(t, model, tok)
		name := m.String()
		if m == kernels.MethodInvalid {
			name = "fp32"
		}
		t.Logf("stories260K held-out perplexity, %s: %.4f", name, ppl[m])
	}
	fp32 := ppl[kernels.MethodInvalid]
	if fp32 < 1.5 || fp32 > 20 {
		t.Errorf("fp32 perplexity %.3f outside the plausible range [1.5, 20] for TinyStories-style text", fp32)
	}
	if r := ppl[kernels.Q8_0] / fp32; math.Abs(r-1) > 0.01 {
		t.Errorf("Q8_0 perplexity %.4f is %.2f%% off fp32 %.4f; 8-bit should cost under 1%%", ppl[kernels.Q8_0], 100*(r-1), fp32)
	}
	if !(ppl[kernels.NF4] > ppl[kernels.Q8_0]) {
		t.Errorf("NF4 perplexity %.4f not above Q8_0's %.4f", ppl[kernels.NF4], ppl[kernels.Q8_0])
	}
	if r := ppl[kernels.NF4] / fp32; r > 1.15 {
		t.Errorf("NF4 perplexity %.4f is %.1f%% above fp32; want under 15%%", ppl[kernels.NF4], 100*(r-1))
	}
	if !(ppl[kernels.FP4] > ppl[kernels.NF4]) {
		t.Errorf("FP4 perplexity %.4f not above NF4's %.4f (QLoRA Table 2 finds NF4 better)", ppl[kernels.FP4], ppl[kernels.NF4])
	}
}
