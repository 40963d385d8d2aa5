package engine

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"
	"runtime"
	"sync"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/modelwhisperer/whisperc/runtime/kernels"
)

// crossEntropyOp is the training loss: for logits [T, vocab], the scalar
// Σ_t w_t · −log softmax(logits_t)[target_t]. The targets and weights are
// set before each run (SetTargets); a weight of 0 masks a position, and
// weights of 1/N make the loss a mean over N tokens. The exponentials run
// in float32 (kernels.ExpScale, as torch's do), the loss's sum over rows in
// float64, and the result is rounded to float32.
type crossEntropyOp struct {
	name string
	// threads is how many goroutines share the rows (one when 0 or 1):
	// each row's terms are computed alone and the loss sums them in row
	// order, so the bits do not depend on it.
	threads int
	targets []int32
	weights []float32
	// lse holds each row's log-sum-exp from the last forward run, for
	// the backward op of the same run.
	lse []float64
	// mx holds each row's largest logit, the shift of its exponentials.
	mx []float32
	// terms holds each row's weighted loss from the last forward run.
	terms []float64
	// exps is the backward op's output [T, vocab], reused from run to
	// run: the forward op leaves each row's exponentials e^(x−mx) there,
	// and the backward op scales them in place into the gradient instead
	// of computing them a second time.
	exps *tensor.Dense
}

func (o *crossEntropyOp) Arity() int { return 1 }
func (o *crossEntropyOp) Type() hm.Type {
	return hm.NewFnType(gorgonia.TensorType{Dims: 2, Of: tensor.Float32}, tensor.Float32)
}
func (o *crossEntropyOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}
func (o *crossEntropyOp) ReturnsPtr() bool      { return false }
func (o *crossEntropyOp) CallsExtern() bool     { return false }
func (o *crossEntropyOp) OverwritesInput() int  { return -1 }
func (o *crossEntropyOp) WriteHash(h hash.Hash) { fmt.Fprint(h, o.name) }
func (o *crossEntropyOp) String() string        { return o.name }
func (o *crossEntropyOp) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

// check validates the logits against the targets.
func (o *crossEntropyOp) check(s tensor.Shape) (t, v int, err error) {
	t, v = rowsCols(s)
	if len(o.targets) != t || len(o.weights) != t {
		return 0, 0, fmt.Errorf("engine: %s: %d targets and %d weights for %d rows", o.name, len(o.targets), len(o.weights), t)
	}
	for _, id := range o.targets {
		if id < 0 || int(id) >= v {
			return 0, 0, fmt.Errorf("engine: %s: target %d is outside the vocabulary of %d", o.name, id, v)
		}
	}
	return t, v, nil
}

func (o *crossEntropyOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, s, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	t, v, err := o.check(s)
	if err != nil {
		return nil, err
	}
	o.lse = append(o.lse[:0], make([]float64, t)...)
	o.mx = append(o.mx[:0], make([]float32, t)...)
	o.terms = append(o.terms[:0], make([]float64, t)...)
	if o.exps == nil || !o.exps.Shape().Eq(tensor.Shape{t, v}) {
		o.exps = tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(t, v))
	}
	e := o.exps.Float32s()
	rowsOver(t, o.threads, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			if o.weights[r] == 0 {
				continue
			}
			row := x[r*v : (r+1)*v]
			o.lse[r], o.mx[r] = logSumExp(row, e[r*v:(r+1)*v])
			o.terms[r] = float64(o.weights[r]) * (o.lse[r] - float64(row[o.targets[r]]))
		}
	})
	var loss float64
	for r, term := range o.terms {
		if o.weights[r] != 0 {
			loss += term
		}
	}
	return gorgonia.NewF32(float32(loss)), nil
}

// rowsOver calls fn on threads runs of [0, rows) of about equal length,
// each on its own goroutine (the first on the caller's), and waits for
// them; one run when threads ≤ 1, GOMAXPROCS runs when it is negative (as
// kernels.Exec counts threads).
func rowsOver(rows, threads int, fn func(lo, hi int)) {
	if threads < 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	if threads <= 1 || rows < 2 {
		fn(0, rows)
		return
	}
	chunk := (rows + threads - 1) / threads
	var wg sync.WaitGroup
	for lo := chunk; lo < rows; lo += chunk {
		wg.Go(func() { fn(lo, min(lo+chunk, rows)) })
	}
	fn(0, min(chunk, rows))
	wg.Wait()
}

// logSumExp returns log Σ exp(x), the exponentials summed in float32 with
// the row's maximum, which it also returns, subtracted; scratch, as long as
// x, receives them (e^(x−max)).
func logSumExp(x, scratch []float32) (float64, float32) {
	mx := maxOf(x)
	return float64(mx) + math.Log(float64(kernels.ExpScale(scratch, x, mx, 1))), mx
}

// maxOf returns the largest element of x (NaN if any is NaN), as one
// chain of the max builtin would, but in eight independent chains: max
// is exact and, with +0 above −0, does not depend on the order.
func maxOf(x []float32) float32 {
	m := [8]float32{x[0], x[0], x[0], x[0], x[0], x[0], x[0], x[0]}
	i := 0
	for ; i+8 <= len(x); i += 8 {
		c := x[i : i+8 : i+8]
		m[0], m[1], m[2], m[3] = max(m[0], c[0]), max(m[1], c[1]), max(m[2], c[2]), max(m[3], c[3])
		m[4], m[5], m[6], m[7] = max(m[4], c[4]), max(m[5], c[5]), max(m[6], c[6]), max(m[7], c[7])
	}
	for ; i < len(x); i++ {
		m[0] = max(m[0], x[i])
	}
	return max(max(max(m[0], m[1]), max(m[2], m[3])), max(max(m[4], m[5]), max(m[6], m[7])))
}

// DiffWRT reports that the loss is differentiable in the logits.
func (o *crossEntropyOp) DiffWRT(int) []bool { return []bool{true} }

// SymDiff returns dlogits_t = g · w_t · (softmax(logits_t) − onehot(target_t)).
func (o *crossEntropyOp) SymDiff(in gorgonia.Nodes, out, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	// The loss node is an input so that the tape runs the forward op,
	// which leaves each row's log-sum-exp, before this one.
	n, err := gorgonia.ApplyOp(&crossEntropyGrad{loss: o}, in[0], grad, out)
	return gorgonia.Nodes{n}, err
}

// crossEntropyGrad is the loss's backward op: (logits, scalar g, the
// loss) → dlogits.
type crossEntropyGrad struct{ loss *crossEntropyOp }

func (o *crossEntropyGrad) Arity() int { return 3 }
func (o *crossEntropyGrad) Type() hm.Type {
	m := gorgonia.TensorType{Dims: 2, Of: tensor.Float32}
	return hm.NewFnType(m, tensor.Float32, tensor.Float32, m)
}
func (o *crossEntropyGrad) InferShape(ns ...gorgonia.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(ns, 0)
	if err != nil {
		return nil, err
	}
	return s.Clone(), nil
}
func (o *crossEntropyGrad) ReturnsPtr() bool      { return false }
func (o *crossEntropyGrad) CallsExtern() bool     { return false }
func (o *crossEntropyGrad) OverwritesInput() int  { return -1 }
func (o *crossEntropyGrad) WriteHash(h hash.Hash) { fmt.Fprint(h, o.loss.name+".dlogits") }
func (o *crossEntropyGrad) String() string        { return o.loss.name + ".dlogits" }
func (o *crossEntropyGrad) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

func (o *crossEntropyGrad) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	_, s, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	g, err := scalar32(vs[1])
	if err != nil {
		return nil, err
	}
	t, v, err := o.loss.check(s)
	if err != nil {
		return nil, err
	}
	out := o.loss.exps
	if len(o.loss.lse) != t || out == nil || !out.Shape().Eq(s) {
		return nil, fmt.Errorf("engine: %s: the loss has not run", o.String())
	}
	d := out.Float32s()
	rowsOver(t, o.loss.threads, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			w := o.loss.weights[r]
			dst := d[r*v : (r+1)*v]
			if w == 0 {
				clear(dst)
				continue
			}
			lse := o.loss.lse[r] // the forward op ran first: its output is an input here
			k := float64(g) * float64(w)
			// k·e^(x−lse) as e^(x−mx)·(k·e^(mx−lse)): the shift is the
			// row's own float32 maximum, so no rounding of lse to float32
			// enters every element. The forward op left e^(x−mx) in dst.
			mx := o.loss.mx[r]
			kernels.Scale(dst, float32(k*math.Exp(float64(mx)-lse)))
			dst[o.loss.targets[r]] -= float32(k)
		}
	})
	return out, nil
}

// scalar32 returns the value of a float32 scalar.
func scalar32(v gorgonia.Value) (float32, error) {
	switch s := v.(type) {
	case *gorgonia.F32:
		return float32(*s), nil
	case *tensor.Dense:
		if s.Dtype() == tensor.Float32 && s.Size() == 1 {
			return s.Float32s()[0], nil
		}
	}
	return 0, fmt.Errorf("engine: expected a float32 scalar, got %T", v)
}
