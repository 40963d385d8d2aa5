package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
	"github.com/modelwhisperer/whisperc/planner/arch"
	"github.com/modelwhisperer/whisperc/planner/cost"
	"github.com/modelwhisperer/whisperc/runtime/data"
	"github.com/modelwhisperer/whisperc/runtime/engine"
	"github.com/modelwhisperer/whisperc/runtime/observe"
	"github.com/modelwhisperer/whisperc/runtime/train"
	"github.com/modelwhisperer/whisperc/runtime/weights"
)

// trained is a finetune's result, for the stages that use its output.
type trained struct {
	method train.Method
	// adapters are the trained LoRA adapters (LoRA and QLoRA).
	adapters map[string]*engine.Adapter
	// ws is the fine-tuned model (full fine-tuning).
	ws     *weights.Set
	result *train.Result
}

// finetuneOf returns the finetune declaration of a stage.
func (x *executor) finetuneOf(st *planner.Stage) *compiler.Finetune {
	return x.prog.Finetune(st.Decl)
}

// attachAdapters checks the adapters the plan attaches; the train stage
// creates and trains them.
func (x *executor) attachAdapters(ctx context.Context, st *planner.Stage) *diag.Diagnostic {
	f := x.finetuneOf(st)
	if f == nil || f.LoRA == nil {
		return x.errorf(st, "E500", "Internal runtime error", "Stage %s has no finetune with a lora block. Plan again.", st.ID)
	}
	if _, ok := x.models[st.Model]; !ok {
		return x.errorf(st, "E500", "Internal runtime error", "Stage %s attaches adapters to model %q, which is not loaded. Plan again.", st.ID, st.Model)
	}
	return nil
}

// trainPlan is what a train graph says beyond the inference engine's
// options: the method and the adapters' settings.
type trainPlan struct {
	method  train.Method
	modules []string
	rank    int
	alpha   float64
	dropout float64
	rslora  bool
	// checkpoint marks the blocks recomputed in the backward pass,
	// selective those whose attention core is.
	checkpoint, selective []bool
	// bf16 says that full fine-tuning trains bf16-stored weights in bf16.
	bf16 bool
}

// trainOptions reads a train stage's graph: the engine's options (each
// layer's attention, each weight's stored format) and the training
// method and the blocks to recompute. Every trainable flag and adapter
// must be consistent with one method.
func trainOptions(g *planner.Graph, c arch.Config) (engine.Options, trainPlan, error) {
	var tp trainPlan
	inf := *g
	inf.KVCache = nil
	inf.Layers = make([]planner.Layer, len(g.Layers))
	trainable, linears := 0, 0
	mods := map[string]bool{}
	for i, l := range g.Layers {
		tp.checkpoint = append(tp.checkpoint, l.Checkpoint)
		tp.selective = append(tp.selective, l.RecomputeAttention)
		inf.Layers[i] = l
		inf.Layers[i].Checkpoint, inf.Layers[i].RecomputeAttention = false, false
		inf.Layers[i].Linears = make([]planner.Linear, len(l.Linears))
		for j, ln := range l.Linears {
			linears++
			if ln.Trainable {
				trainable++
			}
			if a := ln.Adapter; a != nil {
				if tp.rank == 0 {
					tp.rank, tp.alpha, tp.dropout, tp.rslora = a.Rank, a.Alpha, a.Dropout, a.RSLoRA
				} else if a.Rank != tp.rank || a.Alpha != tp.alpha || a.Dropout != tp.dropout || a.RSLoRA != tp.rslora {
					return engine.Options{}, tp, fmt.Errorf("layer %d, %s: adapters of different settings in one graph are not supported", i, ln.Module)
				}
				if a.Format != cost.FP32 {
					return engine.Options{}, tp, fmt.Errorf("layer %d, %s: the adapter is stored in %s; the CPU runtime trains adapters in fp32", i, ln.Module, a.Format)
				}
				mods[ln.Module] = true
			}
			ln.Trainable, ln.Adapter = false, nil
			inf.Layers[i].Linears[j] = ln
		}
	}
	headTrained, embTrained := g.Head.Trainable, g.Embedding.Trainable
	inf.Head.Trainable, inf.Head.Adapter = false, nil
	inf.Embedding.Trainable, inf.Embedding.Adapter = false, nil
	switch {
	case trainable == linears && linears > 0 && len(mods) == 0 && embTrained && headTrained:
		tp.method = train.Full
	case trainable == 0 && len(mods) > 0 && !embTrained && !headTrained:
		tp.method = train.LoRA
		for m := range mods {
			tp.modules = append(tp.modules, m)
		}
		sort.Strings(tp.modules)
	default:
		return engine.Options{}, tp, fmt.Errorf("the graph trains %d of %d linear layers, %d adapted modules, embeddings %t, classifier %t: neither full fine-tuning nor LoRA, which are what the runtime trains",
			trainable, linears, len(mods), embTrained, headTrained)
	}
	o, err := EngineOptions(&inf, c)
	if err != nil {
		return o, tp, err
	}
	if tp.method == train.Full {
		for name, w := range o.Weights {
			switch w.Format {
			case engine.QuantizeNone:
			case engine.QuantizeBF16:
				tp.bf16 = true // precision = bf16: trained in bf16 (runtime/train/bf16.go)
			default:
				return o, tp, fmt.Errorf("%s is stored as %s, but full fine-tuning updates weights in fp32 or bf16", name, w.Format)
			}
		}
	}
	return o, tp, nil
}

// trainConfig translates a finetune declaration into the trainer's
// configuration.
func trainConfig(f *compiler.Finetune, tp trainPlan) (train.Config, error) {
	// The declaration's method (QLoRA stays QLoRA), which the graph's
	// trainable flags and adapters must agree with.
	if f.Method.Adapters() != tp.method.Adapters() {
		return train.Config{}, fmt.Errorf("the plan's graph trains %s, but finetune %s says method = %s: plan again", tp.method, f.Name, f.Method)
	}
	cfg := train.Config{
		Method: f.Method, Batch: f.Batch, GradAccum: f.GradAccum, Epochs: f.Epochs, MaxSteps: f.MaxSteps,
		Seed: uint64(f.Seed), Shuffle: f.Data.Shuffle, Output: f.Output, Checkpoint: tp.checkpoint, RecomputeAttention: tp.selective,
		MaxGradNorm: f.MaxGradNorm, BF16: tp.bf16,
		NaNPatience: f.NaN.Patience, NaNLRFactor: f.NaN.LRFactor, NaNRollbacks: f.NaN.Rollbacks,
	}
	if f.NaN.Rollbacks == 0 {
		cfg.NaNRollbacks = -1 // nan_rollbacks = 0: none
	}
	if tp.method.Adapters() {
		cfg.LoRA = train.LoRAConfig{Rank: tp.rank, Alpha: tp.alpha, Dropout: tp.dropout, Modules: tp.modules, RSLoRA: tp.rslora}
	}
	o := f.Optimizer
	if !train.Runs(o.Name) {
		return cfg, fmt.Errorf("optimizer %s is not implemented in the CPU runtime; use adamw, adamw_8bit or sgd", o.Name)
	}
	cfg.Optimizer.Kind, cfg.Optimizer.LR, cfg.Optimizer.WeightDecay = o.Name, o.LR, o.WeightDecay
	cfg.Schedule = o.Schedule
	if o.Warmup.IsPercent {
		cfg.WarmupPercent = o.Warmup.Percent
	} else {
		cfg.WarmupSteps = o.Warmup.Steps
	}
	return cfg, nil
}

// dataOptions translates a dataset declaration into the reader's options.
func dataOptions(d *compiler.Dataset) (data.Options, error) {
	o := data.Options{Field: d.Field, SeqLen: d.SeqLen, Pack: d.Packing, Truncate: d.Truncate, Shuffle: d.Shuffle, Seed: uint64(d.Seed), SkipBad: d.SkipBadRecords}
	if d.HF != "" {
		return o, fmt.Errorf("dataset %s comes from the Hugging Face Hub (%s); the runtime reads local files: download it first", d.Name, d.HF)
	}
	if !data.Reads(d.Format) {
		return o, fmt.Errorf("dataset %s is %s, which the runtime does not read yet; use jsonl or text", d.Name, d.Format)
	}
	o.Format = d.Format
	if d.Eval.IsPercent {
		o.EvalPercent = d.Eval.Percent
	} else {
		o.EvalExamples = d.Eval.Examples
	}
	return o, nil
}

// fingerprint identifies a training run's inputs, so that a resume never
// continues another configuration's checkpoints: the model's source, the
// data file's content, the trainer's and the reader's settings.
func fingerprint(modelSource, dataPath string, cfg train.Config, do data.Options) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "model %s\n", modelSource)
	f, err := os.Open(dataPath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	c := cfg
	c.Report, c.Output = nil, ""
	js, err := json.Marshal(struct {
		C train.Config
		D data.Options
	}{c, do})
	if err != nil {
		return "", err
	}
	h.Write(js)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// train runs a finetune: it builds the engine the stage's graph describes
// (without a KV cache), reads and tokenises the data, trains with progress
// on stderr, and keeps the result for later stages.
func (x *executor) train(ctx context.Context, st *planner.Stage) *diag.Diagnostic {
	f := x.finetuneOf(st)
	m, ok := x.models[st.Model]
	if f == nil || f.Data == nil || !ok || st.Graph == nil {
		return x.errorf(st, "E500", "Internal runtime error", "Stage %s has no finetune declaration, data, loaded model or graph. Plan again.", st.ID)
	}
	opts, tp, err := trainOptions(st.Graph, m.ws.Config)
	if err != nil {
		return x.errorf(st, "E505", "Plan cannot run here", "Stage %s: %v.", st.ID, err)
	}
	cfg, err := trainConfig(f, tp)
	if err != nil {
		return x.errorf(st, "E505", "Setting cannot run here", "Stage %s: %v.", st.ID, err)
	}
	tp.method = cfg.Method
	do, err := dataOptions(f.Data)
	if err != nil {
		return x.errorf(st, "E505", "Data cannot be read here", "Stage %s: %v.", st.ID, err)
	}
	if do.SeqLen > m.ws.Config.MaxSeq {
		return x.errorf(st, "E505", "Sequence too long", "Dataset %s has seq_len = %d, beyond model %s's context of %d. Lower seq_len.", f.Data.Name, do.SeqLen, st.Model, m.ws.Config.MaxSeq)
	}
	x.s.progress("reading %s", f.Data.Source)
	ds, err := data.Load(f.Data.Source, m.tok, do)
	x.s.progressDone()
	if err != nil {
		fix := "Fix the record (or the dataset's settings), or skip bad records with on_bad_record = skip, and run again."
		if do.SkipBad {
			fix = "Fix the records (or the dataset's settings) and run again."
		}
		return x.errorf(st, "E508", "Training data cannot be used", "Dataset %s: %v. %s", f.Data.Name, err, fix)
	}
	opts.Context = do.SeqLen
	e, err := engine.New(ctx, m.ws, opts)
	if err != nil {
		return x.errorf(st, "E505", "Model cannot run with these settings", "%v.", err)
	}
	if f.SaveEvery.N > 0 {
		switch f.SaveEvery.Unit {
		case "steps":
			cfg.SaveEvery = f.SaveEvery.N
		case "epochs":
			cfg.SaveEvery = f.SaveEvery.N * train.StepsPerEpoch(len(ds.Train), cfg.Batch, cfg.GradAccum)
		default:
			return x.errorf(st, "E505", "Setting cannot run here", "save_every counts %s; the runtime saves every so many steps or epochs.", f.SaveEvery.Unit)
		}
	}
	if f.EvalEvery.N > 0 {
		switch f.EvalEvery.Unit {
		case "steps":
			cfg.EvalEvery = f.EvalEvery.N
		case "epochs":
			cfg.EvalEvery = f.EvalEvery.N * train.StepsPerEpoch(len(ds.Train), cfg.Batch, cfg.GradAccum)
		default:
			return x.errorf(st, "E505", "Setting cannot run here", "eval_every counts %s; the runtime evaluates every so many steps or epochs.", f.EvalEvery.Unit)
		}
	}
	fp, err := fingerprint(m.ws.Source, f.Data.Source, cfg, do)
	if err != nil {
		return x.errorf(st, "E508", "Training data cannot be used", "%v.", err)
	}
	rep := newTrainReporter(x, st)
	// Once the first step has allocated the training graph's values,
	// narrow the heap's growth to cost.HeapHeadroom of its live size, as
	// generation does (boundHeap; called earlier, while the live heap is
	// small, its 16 MiB floor would make the percentage larger than the
	// default): under the collector's default the garbage of each sequence
	// could grow to the size of the live heap, the optimizer's moments and
	// the graph's values included.
	var lift func()
	defer func() {
		if lift != nil {
			lift()
		}
	}()
	cfg.Report = func(ev train.Event) {
		if lift == nil && ev.Step > 0 && ev.EvalLoss == 0 {
			lift = boundHeap(atMostLive(cost.HeapHeadroom))
		}
		rep.event(ev)
	}
	tr, err := train.New(e, ds, cfg)
	if err != nil {
		return x.errorf(st, "E505", "Training cannot start", "%v.", err)
	}
	counts := ""
	if do.SkipBad {
		counts = fmt.Sprintf(", %d bad skipped", ds.Skipped)
		if ds.LongSkipped > 0 {
			counts += fmt.Sprintf(" (%d longer than seq_len)", ds.LongSkipped)
		}
	}
	if do.Truncate {
		counts += fmt.Sprintf(", %d truncated", ds.Truncated)
	}
	fmt.Fprintf(x.s.Stderr, "training %s: %s on %s, %d train and %d eval sequences of %d tokens (%d records%s), %d steps\n",
		f.Name, tp.method, st.Model, len(ds.Train), len(ds.Eval), do.SeqLen, ds.Records, counts, tr.Steps())
	for _, p := range ds.Problems {
		fmt.Fprintf(x.s.Stderr, "  skipped %s\n", p)
	}
	if ds.Skipped > len(ds.Problems) {
		fmt.Fprintf(x.s.Stderr, "  and %d more bad records skipped\n", ds.Skipped-len(ds.Problems))
	}
	rep.start(tr.Steps())
	// A run record that can no longer be written (observe.Failer: a full
	// disk) stops training at the next step rather than train unrecorded.
	tctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	rep.stop = stop
	res, err := tr.Run(tctx, fp)
	rep.finish()
	if err != nil {
		if d := x.recordFailed(st); d != nil && ctx.Err() == nil {
			return d
		}
		return x.errorf(st, "E509", "Training failed", "Stage %s stopped at step %d of %d: %v.", st.ID, tr.Done(), tr.Steps(), err)
	}
	summary := res.String()
	if do.SkipBad {
		summary += fmt.Sprintf("; %d of %d records skipped as bad", ds.Skipped, ds.Records)
		x.metric(st, "skipped_records", float64(ds.Skipped), "records")
	}
	if do.Truncate {
		summary += fmt.Sprintf("; %d of %d records truncated to seq_len", ds.Truncated, ds.Records)
		x.metric(st, "truncated_records", float64(ds.Truncated), "records")
	}
	fmt.Fprintf(x.s.Stderr, "trained %s: %s; outputs in %s\n", f.Name, summary, res.Output)
	x.metric(st, "train_loss", res.FinalLoss, "")
	if res.Skipped > 0 || res.Rollbacks > 0 {
		x.metric(st, "nonfinite_steps", float64(res.Skipped), "steps")
		x.metric(st, "rollbacks", float64(res.Rollbacks), "")
	}
	x.metric(st, "tokens", float64(res.Tokens), "tokens")
	x.metric(st, "seconds", res.Elapsed.Seconds(), "s")
	x.metric(st, "steps", float64(res.Steps), "steps")
	x.reportOutputs(st, res.Output, tp.method)
	out := &trained{method: tp.method, result: res}
	if tp.method.Adapters() {
		out.adapters = tr.Adapters()
	} else if out.ws, err = e.Snapshot(); err != nil {
		return x.errorf(st, "E509", "Training failed", "%v.", err)
	}
	if x.trained == nil {
		x.trained = map[string]*trained{}
	}
	x.trained[f.Name] = out
	return nil
}

// reportOutputs tells the observer about the files in the output
// directory.
func (x *executor) reportOutputs(st *planner.Stage, dir string, method train.Method) {
	if dir == "" {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		kind := observe.OutputModel
		switch {
		case e.IsDir():
			kind = observe.OutputCheckpoint
		case method.Adapters():
			kind = observe.OutputAdapter
		}
		info, err := e.Info()
		if err != nil || e.Name()[0] == '.' {
			continue
		}
		// checkpoint-N holds the state at step N; the rest is the final
		// output (step 0), so `whisperc runs restore ID@N` finds it.
		var step int64
		if n, ok := strings.CutPrefix(e.Name(), "checkpoint-"); ok && e.IsDir() {
			step, _ = strconv.ParseInt(n, 10, 64)
		}
		x.obs.Output(observe.Output{Stage: st.ID, Kind: kind, Path: filepath.Join(dir, e.Name()), Bytes: info.Size(), Step: step, Time: time.Now()})
	}
}

// evaluate reports the evaluation the train stage ran on the held-out
// split at the end of training (forward passes only).
func (x *executor) evaluate(ctx context.Context, st *planner.Stage) *diag.Diagnostic {
	t, ok := x.trained[st.Decl]
	if !ok {
		return x.errorf(st, "E500", "Internal runtime error", "Stage %s evaluates finetune %s, which has not trained. Plan again.", st.ID, st.Decl)
	}
	if t.result.EvalLoss > 0 {
		fmt.Fprintf(x.s.Stderr, "evaluated %s: eval loss %.4f, perplexity %.2f\n", st.Decl, t.result.EvalLoss, t.result.Perplexity())
		x.metric(st, "eval_loss", t.result.EvalLoss, "")
		x.metric(st, "perplexity", t.result.Perplexity(), "")
	}
	return nil
}

// trainReporter shows training progress: a progress bar on a terminal,
// plain lines every tenth of the run otherwise, and every event to the
// observer as metrics.
type trainReporter struct {
	x     *executor
	st    *planner.Stage
	bar   *progressbar.ProgressBar
	every int
	// stop cancels training when the observer can no longer record.
	stop context.CancelCauseFunc
}

func newTrainReporter(x *executor, st *planner.Stage) *trainReporter {
	return &trainReporter{x: x, st: st}
}

func (r *trainReporter) start(steps int) {
	r.every = max(1, steps/10)
	if r.x.s.Progress && r.x.s.Stderr != nil {
		r.bar = progressbar.NewOptions(steps, progressbar.OptionSetWriter(r.x.s.Stderr), progressbar.OptionSetDescription("train"),
			progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true), progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
	}
}

func (r *trainReporter) finish() {
	if r.bar != nil {
		r.bar.Finish()
	}
}

func (r *trainReporter) line(format string, args ...any) {
	if r.bar != nil {
		r.bar.Clear()
	}
	fmt.Fprintf(r.x.s.Stderr, format+"\n", args...)
}

func (r *trainReporter) event(ev train.Event) {
	now := time.Now()
	tps := 0.0
	if ev.Elapsed > 0 {
		tps = float64(ev.Tokens) / ev.Elapsed.Seconds()
	}
	switch {
	case ev.Note != "":
		r.line("%s", ev.Note)
		return
	case ev.EvalLoss > 0:
		r.line("step %d/%d: eval loss %.4f, perplexity %.2f", ev.Step, ev.Steps, ev.EvalLoss, math.Exp(ev.EvalLoss))
		r.x.obs.Metric(observe.Metric{Stage: r.st.ID, Name: "eval_loss", Value: ev.EvalLoss, Step: int64(ev.Step), Time: now})
		return
	}
	r.x.obs.Metric(observe.Metric{Stage: r.st.ID, Name: "loss", Value: ev.Loss, Step: int64(ev.Step), Time: now})
	r.x.obs.Metric(observe.Metric{Stage: r.st.ID, Name: "learning_rate", Value: ev.LR, Step: int64(ev.Step), Time: now})
	if f, ok := r.x.obs.(observe.Failer); ok && r.stop != nil {
		if err := f.Err(); err != nil {
			r.stop(err)
		}
	}
	if r.bar != nil {
		r.bar.Describe(fmt.Sprintf("epoch %d loss %.4f lr %.2e %.0f tok/s", ev.Epoch+1, ev.Loss, ev.LR, tps))
		r.bar.Set(ev.Step)
		return
	}
	if ev.Step%r.every == 0 || ev.Step == ev.Steps || ev.Step == 1 {
		r.line("step %d/%d: epoch %d, loss %.4f, lr %.2e, grad norm %.3f, %.0f tok/s, %.1f s", ev.Step, ev.Steps, ev.Epoch+1, ev.Loss, ev.LR, ev.GradNorm, tps, ev.Elapsed.Seconds())
	}
}

// useAdapters applies trained LoRA adapters to an inference engine:
// merged into fp32 weights, or on the fly over quantised ones (QLoRA),
// whose re-quantisation after a merge would lose the update.
func useAdapters(e *engine.Engine, adapters map[string]*engine.Adapter) error {
	if e.Quantized() {
		return e.AttachAdapters(adapters)
	}
	return e.MergeAdapters(adapters)
}
