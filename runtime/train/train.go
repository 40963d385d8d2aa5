// Package train fine-tunes a model on the Gorgonia engine: full
// fine-tuning or LoRA adapters (over an fp32 or a quantised base, which is
// QLoRA), with AdamW or SGD, a warmup-then-decay learning-rate schedule,
// clipping by global norm, gradient accumulation, evaluation, atomic
// checkpoints in Hugging Face's layouts (PEFT adapters, Llama safetensors)
// and exact resume.
//
// A run is reproducible: with the same seed and thread count it produces
// bit-identical weights, whether or not it was interrupted and resumed
// from a checkpoint, because everything random (adapter initialisation,
// dropout masks, the data order) comes from one seeded generator whose
// state the checkpoint records, and the data order of each epoch is a
// function of the seed and the epoch.
package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"

	"gorgonia.org/tensor"

	"github.com/modelwhisperer/whisperc/runtime/data"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/stdlib/training"
)

// Method is how the weights are updated: the one enum of methods,
// training.Method. QLoRA trains like LoRA: the engine holds the
// quantised base. The zero value is invalid.
type Method = training.Method

// The methods.
const (
	MethodInvalid = training.MethodInvalid
	// Full trains every weight in place.
	Full = training.Full
	// LoRA trains low-rank adapters on a frozen base.
	LoRA = training.LoRA
	// QLoRA is LoRA over a 4-bit base.
	QLoRA = training.QLoRA
)

// LoRAConfig are the adapters' settings.
type LoRAConfig struct {
	Rank    int
	Alpha   float64
	Dropout float64
	// Modules are Hugging Face module names: q_proj, k_proj, v_proj,
	// o_proj, gate_proj, up_proj, down_proj.
	Modules []string
	// RSLoRA scales by alpha/√rank instead of alpha/rank (Kalajdzievski,
	// rank-stabilised LoRA).
	RSLoRA bool
}

// Scale returns the adapters' scaling factor.
func (l LoRAConfig) Scale() float64 {
	if l.RSLoRA {
		return l.Alpha / math.Sqrt(float64(l.Rank))
	}
	return l.Alpha / float64(l.Rank)
}

// Config is one training run.
type Config struct {
	Method    Method
	LoRA      LoRAConfig
	Optimizer Optimizer
	Schedule  ScheduleKind
	// WarmupSteps, or WarmupPercent of the total steps when it is set.
	WarmupSteps   int
	WarmupPercent float64
	// MaxGradNorm clips gradients by global norm; 0 disables clipping.
	MaxGradNorm float64
	// Batch sequences per micro-batch, GradAccum micro-batches per step.
	Batch, GradAccum int
	// Epochs over the training sequences; MaxSteps, when set, decides
	// the number of steps instead.
	Epochs, MaxSteps int
	Seed             uint64
	Shuffle          bool
	// SaveEvery writes a checkpoint every that many steps into Output;
	// 0 writes only the final one. Output "" writes nothing.
	SaveEvery int
	Output    string
	// EvalEvery evaluates every that many steps; 0 at the end of each
	// epoch. The final evaluation always runs when there is eval data.
	EvalEvery int
	// Checkpoint lists, per layer, the blocks whose activations are
	// recomputed in the backward pass instead of kept; nil keeps all.
	Checkpoint []bool
	// RecomputeAttention lists, per layer, the blocks whose attention
	// core is recomputed in the backward pass (selective checkpointing);
	// nil recomputes none.
	RecomputeAttention []bool
	// NaNPatience is how many non-finite steps in a row are skipped
	// before the run rolls back to its last good state with the learning
	// rate multiplied by NaNLRFactor; 0 means 3.
	NaNPatience int
	// NaNLRFactor multiplies the learning rate at each rollback, in
	// (0, 1]; 0 means 0.5.
	NaNLRFactor float64
	// NaNRollbacks is the most rollbacks before the run fails; 0 means
	// 3, a negative value none (the run fails when the patience runs
	// out).
	NaNRollbacks int
	// BF16 trains in bf16 the weights that the engine stores in bf16
	// (full fine-tuning with precision = bf16; bf16.go): AdamW only.
	BF16 bool
	// Report receives an event after every step and evaluation.
	Report func(Event) `json:"-"`
}

// Event reports progress.
type Event struct {
	Step, Steps int
	Epoch       int
	Loss        float64 // the step's mean training loss
	LR          float64
	GradNorm    float64
	Tokens      int64 // loss tokens so far
	Elapsed     time.Duration
	// EvalLoss is set (non-zero) on evaluation events.
	EvalLoss float64
	// Note describes a skipped step, a rollback or a checkpoint.
	Note string
}

// Trainer holds a run's state.
type Trainer struct {
	cfg      Config
	e        *engine.Engine
	ts       *engine.TrainStep
	ds       *data.Set
	params   []*engine.Param
	opt      *state
	sched    Schedule
	rng      *rand.PCG
	adapters map[string]*engine.Adapter
	step     int // optimizer steps done
	perEpoch int
	total    int
	lrScale  float64
	bad      int // non-finite steps in a row
	tokens   int64
	// back is the last good state, for rollback.
	back rollback
	// Rollbacks counts rollbacks; Skipped non-finite steps skipped.
	Rollbacks, Skipped int
	last               float64
}

// moduleWeights maps Hugging Face module names to canonical weight name
// suffixes.
var moduleWeights = map[string]string{
	"q_proj": "attention.wq.weight", "k_proj": "attention.wk.weight", "v_proj": "attention.wv.weight", "o_proj": "attention.wo.weight",
	"gate_proj": "feed_forward.w1.weight", "up_proj": "feed_forward.w3.weight", "down_proj": "feed_forward.w2.weight",
}

// New prepares a run of cfg on e over ds. The engine must be built
// without a KV cache; for LoRA its base may be quantised.
func New(e *engine.Engine, ds *data.Set, cfg Config) (*Trainer, error) {
	if cfg.Batch < 1 || cfg.GradAccum < 1 {
		return nil, fmt.Errorf("train: batch %d and grad_accum %d must be at least 1", cfg.Batch, cfg.GradAccum)
	}
	if cfg.Epochs < 1 && cfg.MaxSteps < 1 {
		return nil, fmt.Errorf("train: set epochs or max_steps")
	}
	if cfg.Optimizer.LR <= 0 || math.IsNaN(cfg.Optimizer.LR) {
		return nil, fmt.Errorf("train: the learning rate must be positive")
	}
	if len(ds.Train) == 0 {
		return nil, fmt.Errorf("train: no training sequences")
	}
	if !Runs(cfg.Optimizer.Kind) {
		return nil, fmt.Errorf("train: optimizer %s is not implemented", cfg.Optimizer.Kind)
	}
	if cfg.BF16 && (cfg.Method != Full || cfg.Optimizer.Kind != AdamW) {
		return nil, fmt.Errorf("train: bf16 weights train with full fine-tuning and adamw only, not %s with %s", cfg.Method, cfg.Optimizer.Kind)
	}
	seqLen := len(ds.Train[0].Inputs)
	cfg.Optimizer = cfg.Optimizer.withDefaults()
	if cfg.NaNPatience <= 0 {
		cfg.NaNPatience = 3
	}
	if cfg.NaNLRFactor == 0 {
		cfg.NaNLRFactor = 0.5
	}
	if !(cfg.NaNLRFactor > 0 && cfg.NaNLRFactor <= 1) {
		return nil, fmt.Errorf("train: the rollback learning-rate factor %g must be in (0, 1]", cfg.NaNLRFactor)
	}
	if cfg.NaNRollbacks == 0 {
		cfg.NaNRollbacks = 3
	}
	if cfg.MaxGradNorm < 0 || math.IsNaN(cfg.MaxGradNorm) {
		return nil, fmt.Errorf("train: max_grad_norm %g must be 0 (no clipping) or positive", cfg.MaxGradNorm)
	}
	t := &Trainer{cfg: cfg, e: e, ds: ds, rng: rand.NewPCG(cfg.Seed, 0x7e57), lrScale: 1}
	spec := engine.TrainSpec{SeqLen: seqLen, Checkpoint: cfg.Checkpoint, RecomputeAttention: cfg.RecomputeAttention, BF16: cfg.BF16}
	switch cfg.Method {
	case Full:
		spec.Trained = map[string]bool{}
		for _, n := range e.WeightNames() {
			spec.Trained[n] = true
		}
	case LoRA, QLoRA:
		l := cfg.LoRA
		if l.Rank < 1 || l.Alpha <= 0 || l.Dropout < 0 || l.Dropout >= 1 || len(l.Modules) == 0 {
			return nil, fmt.Errorf("train: LoRA needs rank ≥ 1, alpha > 0, dropout in [0, 1) and target modules")
		}
		t.adapters = map[string]*engine.Adapter{}
		r := rand.New(t.rng)
		for layer := range e.Config().Layers {
			for _, m := range l.Modules {
				suffix, ok := moduleWeights[m]
				if !ok {
					return nil, fmt.Errorf("train: LoRA target %q is not one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj", m)
				}
				name := fmt.Sprintf("layers.%d.%s", layer, suffix)
				rows, cols := linearDims(e, suffix)
				// PEFT's initialisation: A from kaiming_uniform(a=√5),
				// which is U(−1/√in, 1/√in); B zero, so training starts
				// from the base model.
				a := make([]float32, l.Rank*cols)
				bound := 1 / math.Sqrt(float64(cols))
				for i := range a {
					a[i] = float32((2*r.Float64() - 1) * bound)
				}
				t.adapters[name] = &engine.Adapter{
					A:       tensor.New(tensor.WithShape(l.Rank, cols), tensor.WithBacking(a)),
					B:       tensor.New(tensor.WithShape(rows, l.Rank), tensor.WithBacking(make([]float32, rows*l.Rank))),
					Scale:   float32(l.Scale()),
					Dropout: l.Dropout > 0,
				}
			}
		}
		spec.Adapters = t.adapters
	default:
		return nil, fmt.Errorf("train: method %s is not implemented", cfg.Method)
	}
	ts, err := e.NewTrainStep(spec)
	if err != nil {
		return nil, err
	}
	t.ts, t.params = ts, ts.Params()
	t.opt = newState(cfg.Optimizer, t.params)
	t.perEpoch = StepsPerEpoch(len(ds.Train), cfg.Batch, cfg.GradAccum)
	t.total = cfg.MaxSteps
	if t.total <= 0 {
		t.total = cfg.Epochs * t.perEpoch
	}
	warm := cfg.WarmupSteps
	if cfg.WarmupPercent > 0 {
		warm = int(math.Ceil(float64(t.total) * cfg.WarmupPercent / 100))
	}
	t.sched = Schedule{Kind: cfg.Schedule, LR: cfg.Optimizer.LR, Warmup: warm, Total: t.total}
	if t.sched.Kind == ScheduleInvalid {
		t.sched.Kind = Constant
	}
	t.startRollback()
	return t, nil
}

// ErrDiverged is the error of a run whose losses or gradients stayed
// non-finite through every rollback it was allowed.
var ErrDiverged = errors.New("train: the run diverged")

// StepsPerEpoch returns the optimizer steps of one epoch over n training
// sequences: whole steps of batch·accum sequences, at least one.
func StepsPerEpoch(n, batch, accum int) int { return max(1, n/max(1, batch*accum)) }

// linearDims returns [out, in] of the layer-0 weight with suffix.
func linearDims(e *engine.Engine, suffix string) (rows, cols int) {
	c := e.Config()
	hs := c.HeadSize()
	switch {
	case strings.HasSuffix(suffix, "wq.weight"):
		return c.Heads * hs, c.Dim
	case strings.HasSuffix(suffix, "wk.weight"), strings.HasSuffix(suffix, "wv.weight"):
		return c.KVHeads * hs, c.Dim
	case strings.HasSuffix(suffix, "wo.weight"):
		return c.Dim, c.Heads * hs
	case strings.HasSuffix(suffix, "w2.weight"):
		return c.Dim, c.HiddenDim
	}
	return c.HiddenDim, c.Dim
}

// Steps returns the total optimizer steps of the run.
func (t *Trainer) Steps() int { return t.total }

// Done returns the optimizer steps done.
func (t *Trainer) Done() int { return t.step }

// Params returns the trained tensors.
func (t *Trainer) Params() []*engine.Param { return t.params }

// Adapters returns the LoRA adapters by adapted weight (nil for full
// fine-tuning).
func (t *Trainer) Adapters() map[string]*engine.Adapter { return t.adapters }

// batchOf returns the training sequences of step s: the data position is
// a function of the step, so a resumed run continues where it stopped.
func (t *Trainer) batchOf(s int) []int {
	per := t.cfg.Batch * t.cfg.GradAccum
	epoch, k := s/t.perEpoch, s%t.perEpoch
	order := data.Order(len(t.ds.Train), t.cfg.Seed, epoch, t.cfg.Shuffle)
	if per >= len(order) {
		return order
	}
	return order[k*per : (k+1)*per]
}

// Epoch returns the epoch of the next step.
func (t *Trainer) Epoch() int { return t.step / t.perEpoch }

// Step runs one optimizer step: forward and backward over its sequences,
// clipping, the update. A non-finite loss or gradient skips the update;
// after NaNPatience of them in a row the run rolls back to its last good
// state with the learning rate multiplied by NaNLRFactor, at most
// NaNRollbacks times: the next time the run fails with ErrDiverged.
func (t *Trainer) Step(ctx context.Context) (Event, error) {
	if t.step >= t.total {
		return Event{}, fmt.Errorf("train: the run is complete (%d steps)", t.total)
	}
	idx := t.batchOf(t.step)
	n := 0
	for _, i := range idx {
		n += t.ds.Train[i].Tokens()
	}
	t.ts.ZeroGrad()
	w := make([]float32, t.ts.SeqLen())
	var loss float64
	for _, i := range idx {
		seq := t.ds.Train[i]
		for j, x := range seq.Weights {
			w[j] = x / float32(n)
		}
		t.fillDropout()
		l, err := t.ts.Run(ctx, seq.Inputs, seq.Targets, w)
		if err != nil {
			return Event{}, err
		}
		loss += float64(l)
	}
	ev := Event{Step: t.step + 1, Steps: t.total, Epoch: t.Epoch(), Loss: loss}
	// The norm is NaN or Inf when a gradient is, so one pass over the
	// gradients both measures them and shows that they are finite; only a
	// non-finite norm needs the element-wise check (a finite gradient whose
	// square overflows also gives an infinite norm).
	norm := gradNorm(t.params)
	if math.IsNaN(loss) || math.IsInf(loss, 0) || (math.IsNaN(norm) || math.IsInf(norm, 0)) && !finite(t.params) {
		t.bad++
		t.Skipped++
		ev.Note = fmt.Sprintf("step %d: non-finite loss or gradient, update skipped (%d in a row)", t.step+1, t.bad)
		if t.bad >= t.cfg.NaNPatience {
			if t.Rollbacks >= max(t.cfg.NaNRollbacks, 0) {
				return ev, fmt.Errorf("%w: %d non-finite steps in a row after %d rollbacks (nan_rollbacks = %d); lower the learning rate, check the data, or raise nan_rollbacks",
					ErrDiverged, t.bad, t.Rollbacks, max(t.cfg.NaNRollbacks, 0))
			}
			skipped, rollbacks, scale := t.Skipped, t.Rollbacks, t.lrScale
			if err := t.rollBack(); err != nil {
				return Event{}, err
			}
			t.Skipped, t.Rollbacks, t.lrScale = skipped, rollbacks+1, scale*t.cfg.NaNLRFactor
			t.bad = 0
			how := fmt.Sprintf("the learning rate ×%g (now ×%g of the schedule)", t.cfg.NaNLRFactor, t.lrScale)
			if t.cfg.NaNLRFactor == 0.5 {
				how = fmt.Sprintf("the learning rate halved (×%g)", t.lrScale)
			}
			ev.Note += fmt.Sprintf("; rolled back to step %d with %s, rollback %d of at most %d", t.step, how, t.Rollbacks, t.cfg.NaNRollbacks)
			return ev, nil
		}
		t.step++
		return ev, nil
	}
	t.bad = 0
	ev.GradNorm = norm
	clipTo(t.params, norm, t.cfg.MaxGradNorm)
	ev.LR = t.sched.At(t.step) * t.lrScale
	if err := update(t.cfg.Optimizer, t.opt, t.params, ev.LR, t.e.Options().Threads); err != nil {
		return Event{}, err
	}
	t.step++
	t.tokens += int64(n)
	ev.Tokens = t.tokens
	t.last = loss
	return ev, nil
}

// fillDropout draws the adapters' dropout masks for one sequence, in the
// adapters' name order.
func (t *Trainer) fillDropout() {
	p := t.cfg.LoRA.Dropout
	if p <= 0 || t.adapters == nil {
		return
	}
	r := rand.New(t.rng)
	keep := float32(1 / (1 - p))
	for _, name := range sortedKeys(t.adapters) {
		m := t.ts.Mask(name)
		for i := range m {
			if r.Float64() < p {
				m[i] = 0
			} else {
				m[i] = keep
			}
		}
	}
}

// Evaluate returns the mean loss over the evaluation sequences (per loss
// token), or 0 when there are none. Dropout is off.
func (t *Trainer) Evaluate(ctx context.Context) (float64, error) {
	if len(t.ds.Eval) == 0 {
		return 0, nil
	}
	for _, name := range sortedKeys(t.adapters) {
		m := t.ts.Mask(name)
		for i := range m {
			m[i] = 1
		}
	}
	var sum float64
	var n int
	for _, seq := range t.ds.Eval {
		l, err := t.ts.Evaluate(ctx, seq.Inputs, seq.Targets, seq.Weights, nil)
		if err != nil {
			return 0, err
		}
		sum += float64(l)
		n += seq.Tokens()
	}
	return sum / float64(max(n, 1)), nil
}
