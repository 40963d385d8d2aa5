package engines

import (
	"fmt"
	"path"
	"strings"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
	"github.com/modelwhisperer/whisperc/planner"
)

type plannerStage = planner.Stage

// ttModel is how torchtune builds one architecture.
type ttModel struct {
	pkg       string // torchtune.models.llama2
	builder   string // llama2_7b; "" for the generic builder with shapes
	generic   string // llama2: the family builder taking shapes
	tokenizer string // llama2_tokenizer
	tokPath   string // tokenizer file inside the checkpoint directory
	modelType string // the checkpointer's model_type
}

// ttModels maps whisperc's architecture presets to torchtune's builders.
var ttModels = map[string]ttModel{
	"llama-2-7b":    {"torchtune.models.llama2", "llama2_7b", "", "llama2_tokenizer", "tokenizer.model", "LLAMA2"},
	"llama-2-13b":   {"torchtune.models.llama2", "llama2_13b", "", "llama2_tokenizer", "tokenizer.model", "LLAMA2"},
	"llama-2-70b":   {"torchtune.models.llama2", "llama2_70b", "", "llama2_tokenizer", "tokenizer.model", "LLAMA2"},
	"llama-3-8b":    {"torchtune.models.llama3", "llama3_8b", "", "llama3_tokenizer", "original/tokenizer.model", "LLAMA3"},
	"llama-3.1-8b":  {"torchtune.models.llama3_1", "llama3_1_8b", "", "llama3_tokenizer", "original/tokenizer.model", "LLAMA3"},
	"llama-3.1-70b": {"torchtune.models.llama3_1", "llama3_1_70b", "", "llama3_tokenizer", "original/tokenizer.model", "LLAMA3"},
	"llama-3.2-1b":  {"torchtune.models.llama3_2", "llama3_2_1b", "", "llama3_tokenizer", "original/tokenizer.model", "LLAMA3_2"},
	"llama-3.2-3b":  {"torchtune.models.llama3_2", "llama3_2_3b", "", "llama3_tokenizer", "original/tokenizer.model", "LLAMA3_2"},
	"mistral-7b":    {"torchtune.models.mistral", "mistral_7b", "", "mistral_tokenizer", "tokenizer.model", "MISTRAL"},
}

// torchtune lowers one finetune to a recipe configuration and run.sh.
func (l *lowerer) torchtune(f *compiler.Finetune, prefix string) {
	st := l.trainStage(f)
	m := f.Model
	if m == nil || f.Data == nil {
		return
	}
	ref, ok := l.hubRef(m)
	if !ok {
		l.report(diag.Errorf(m.ValueRange("source"), codeUnsupported, "torchtune cannot load "+m.Source.Scheme.String()+" models",
			fmt.Sprintf("torchtune's checkpointer reads Hugging Face checkpoints (hf:ORG/NAME or safetensors:DIR); %s is a %s source. "+
				"Point source at the model's Hugging Face checkpoint.", m.Source.Raw, m.Source.Scheme)))
		return
	}
	info := l.model(m.Name)
	var tm ttModel
	known := false
	if info != nil {
		tm, known = ttModels[info.Architecture]
		if !known && info.Family == "llama" && info.Vocab == 32000 && info.Resolved {
			// A Llama-2-shaped model (TinyLlama): the family builder with its shapes.
			tm, known = ttModel{"torchtune.models.llama2", "", "llama2", "llama2_tokenizer", "tokenizer.model", "LLAMA2"}, true
		}
	}
	if !known {
		arch := "an unknown architecture"
		if info != nil && info.Architecture != "" {
			arch = info.Architecture
		}
		l.report(diag.Errorf(m.ValueRange("source"), codeUnsupported, "no torchtune builder for "+arch,
			"whisperc lowers to torchtune's Llama 2, Llama 3, Llama 3.1, Llama 3.2 and Mistral builders, and to the Llama 2 family builder for "+
				"Llama-2-shaped models (32,000-token vocabulary). Export with --engine hf, which loads any causal LM."))
		return
	}
	site := &f.Decl.Site
	ok = true
	need := func(decision, value string, s *compiler.Site, attr string) string {
		k, good := l.need(decision, value, s.ValueRange(attr))
		ok = ok && good
		return k
	}
	need("method", f.Method.String(), site, "method")
	q := m.Quantize
	quantized := q != nil && q.Method != compiler.DTypeInvalid
	if quantized {
		need("quantize.method", q.Method.String(), &q.Site, "method")
		need("quantize.double", boolWord(q.Double), &q.Site, "double")
		bs := "64"
		if q.BlockSize != 0 && q.BlockSize != 64 {
			bs = "other"
		}
		need("quantize.block_size", bs, &q.Site, "block_size")
		need("quantize.compute", q.Compute.String(), &q.Site, "compute")
	}
	if f.LoRA != nil {
		need("lora.targets", targetValue(f.LoRA), site, "lora.targets")
	}
	need("checkpointing", f.Checkpointing.Mode.String(), site, "checkpointing")
	need("attention", choice(st, "attention", "sdpa"), site, "attention")
	need("compile", f.Compile.String(), site, "compile")
	need("precision", f.Precision.String(), site, "precision")
	need("optimizer.name", f.Optimizer.Name.String(), &f.Optimizer.Site, "name")
	need("optimizer.schedule", f.Optimizer.Schedule.String(), &f.Optimizer.Site, "schedule")
	if f.MaxSteps > 0 {
		need("max_steps", "*", site, "max_steps")
	}
	if f.SaveEvery.N > 0 {
		need("save_every", map[bool]string{true: "steps", false: "epochs"}[f.SaveEvery.Unit == "steps"], site, "save_every")
	}
	evalKind := "none"
	if f.Data.Eval.Percent > 0 || f.Data.Eval.Examples > 0 {
		evalKind = "split"
	}
	need("dataset.eval", evalKind, &f.Data.Decl.Site, "eval")
	need("dataset.truncate", truncateValue(f.Data), &f.Data.Decl.Site, "truncate")
	need("dataset.on_bad_record", badRecordValue(f.Data), &f.Data.Decl.Site, "on_bad_record")
	need("nan_rollbacks", nanRollbacksValue(f), site, "nan_rollbacks")
	if evalKind == "split" && f.EvalEvery.N > 0 {
		need("eval_every", f.EvalEvery.Unit, site, "eval_every")
	}
	if f.LoRA != nil {
		need("lora.rslora", boolWord(f.LoRA.RSLoRA), &f.LoRA.Site, "rslora")
	}
	clip := "off"
	if f.MaxGradNorm > 0 {
		clip = "set"
	}
	need("max_grad_norm", clip, site, "max_grad_norm")
	n := devices(st)
	dist := f.Distributed
	if dist != nil && n > 1 {
		need("distributed.strategy", dist.Strategy.String(), &dist.Site, "strategy")
		need("distributed.engine", dist.Engine.String(), &dist.Site, "engine")
	}
	if l.prog.Track != nil {
		need("track.backend", l.prog.Track.Backend.String(), &l.prog.Track.Decl.Site, "backend")
		l.oneTrackBackend()
	}
	if f.OptimizerInBackward {
		need("optimizer_in_backward", "true", site, "optimizer_in_backward")
	}
	if f.OptimizerInBackward && f.Method != compiler.MethodFull {
		l.report(diag.Errorf(site.ValueRange("optimizer_in_backward"), codeUnsupported, "optimizer_in_backward needs full fine-tuning on torchtune",
			"torchtune's optimizer_in_bwd belongs to its full fine-tuning recipes; the LoRA recipes step after backward (the adapters' gradients are small). Remove optimizer_in_backward."))
		ok = false
	}
	// torchtune 0.6.1's full fine-tuning recipes raise at start-up when
	// optimizer_in_bwd meets gradient accumulation (recipes/
	// full_finetune_single_device.py, __init__); clipping is left out below.
	if f.OptimizerInBackward && f.Method == compiler.MethodFull && f.GradAccum > 1 {
		l.report(diag.Errorf(site.ValueRange("grad_accum"), codeUnsupported, "torchtune's optimizer_in_bwd cannot accumulate gradients",
			"Each gradient is applied and freed in backward, so there is nothing to accumulate; torchtune 0.6's recipes refuse gradient_accumulation_steps > 1 with optimizer_in_bwd. Write grad_accum = 1 (raise batch instead), or remove optimizer_in_backward."))
		ok = false
	}
	// Its recipes offload only checkpointed activations, and raise when
	// enable_activation_offloading comes without checkpointing.
	if f.ActivationOffloading && f.Checkpointing.Mode != compiler.CheckpointFull {
		l.report(diag.Errorf(site.ValueRange("activation_offloading"), codeUnsupported, "torchtune offloads activations only with checkpointing",
			"torchtune 0.6's recipes refuse enable_activation_offloading without enable_activation_checkpointing: they offload the checkpointed layers' inputs. Write checkpointing = full, or remove activation_offloading."))
		ok = false
	}
	if f.OptimizerInBackward && f.Method == compiler.MethodFull && f.MaxGradNorm > 0 {
		l.report(diag.Warningf(site.ValueRange("optimizer_in_backward"), codeApprox, "torchtune approximates max_grad_norm under optimizer_in_backward",
			fmt.Sprintf("torchtune 0.6's recipes refuse gradient clipping with optimizer_in_bwd: each gradient is applied as soon as it is made, before the norm of all of them is known. The export writes clip_grad_norm: null, so max_grad_norm = %g does not apply; write max_grad_norm = 0 to say so.", f.MaxGradNorm)))
	}
	if dist != nil && dist.CPUOffload && n <= 1 {
		l.report(diag.Errorf(dist.ValueRange("cpu_offload"), codeUnsupported, "cpu_offload needs torchtune's distributed recipes",
			"torchtune offloads through FSDP (fsdp_cpu_offload) in its distributed recipes only. Train on two or more GPUs, or use activation_offloading on one."))
		ok = false
	}
	if !ok {
		return
	}

	kind := "lora"
	if f.Method == compiler.MethodFull {
		kind = "full"
	}
	where := "single_device"
	if n > 1 {
		where = "distributed"
	}
	recipe := kind + "_finetune_" + where
	modelDir := "models/" + path.Base(ref)
	if m.Source.Scheme == compiler.SchemeSafetensors {
		modelDir = ref
	}

	var y strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&y, format+"\n", args...) }
	w("# torchtune configuration for recipe %s: %s of %s,", recipe, methodWords(f.Method), ref)
	w("# lowered by whisperc from %s. Each setting is the plan's; the comment", l.srcName())
	w("# after it names the rule (ML001...) or the attribute behind it.")
	w("#")
	w("# Launch from this directory: bash run.sh (it lists the checkpoint's shards for")
	w("# checkpointer.checkpoint_files and runs `tune run %s --config config.yaml`).", recipe)
	w("")
	w("output_dir: %s  # finetune.output", yamlStr(l.rel(f.Output)))
	w("")
	w("model:")
	if f.LoRA != nil {
		lo := f.LoRA
		comp := tm.pkg + ".lora_" + tm.builder
		if tm.builder == "" {
			comp = tm.pkg + ".lora_" + tm.generic
		}
		w("  _component_: %s", comp)
		var attn []string
		mlp := false
		for _, t := range lo.Targets {
			switch t {
			case compiler.ModuleOProj:
				attn = append(attn, "output_proj")
			case compiler.ModuleGateProj, compiler.ModuleUpProj, compiler.ModuleDownProj:
				mlp = true
			default:
				attn = append(attn, t.String())
			}
		}
		w("  lora_attn_modules: [%s]  # ML003: %s (torchtune calls o_proj output_proj)", strings.Join(attn, ", "), targetWords(lo))
		w("  apply_lora_to_mlp: %s  # ML003: gate_proj, up_proj and down_proj together", pyBool(mlp))
		w("  apply_lora_to_output: False")
		if tm.builder == "" {
			ttShapes(w, info)
		}
		w("  lora_rank: %d  # ML003", lo.Rank)
		w("  lora_alpha: %s  # updates scaled by alpha/rank", yamlFloat(lo.Alpha))
		w("  lora_dropout: %s", yamlFloat(lo.Dropout))
		if quantized {
			w("  quantize_base: True  # ML001: frozen linears as torchao NF4 (blocks of 64, double-quantised scales)")
		} else {
			w("  quantize_base: False")
		}
	} else {
		comp := tm.pkg + "." + tm.builder
		if tm.builder == "" {
			comp = tm.pkg + "." + tm.generic
		}
		w("  _component_: %s  # method = full: every weight trained", comp)
		if tm.builder == "" {
			ttShapes(w, info)
		}
	}
	w("")
	w("tokenizer:")
	w("  _component_: %s.%s", tokenizerPkg(tm), tm.tokenizer)
	w("  path: %s", yamlStr(modelDir+"/"+tm.tokPath))
	w("  max_seq_len: %d  # dataset.seq_len", f.Data.SeqLen)
	w("")
	w("checkpointer:")
	w("  _component_: torchtune.training.FullModelHFCheckpointer")
	w("  checkpoint_dir: %s", yamlStr(modelDir))
	w("  checkpoint_files: []  # run.sh passes the *.safetensors shards it finds")
	w("  recipe_checkpoint: null")
	w("  output_dir: ${output_dir}")
	w("  model_type: %s", tm.modelType)
	w("resume_from_checkpoint: False")
	if f.LoRA != nil {
		w("save_adapter_weights_only: False")
	}
	w("")
	w("dataset:")
	w("  # whisperc_support.py, beside this file: the records read, checked, rendered and cut")
	w("  # into sequences as whisperc run does (bad records, truncate, packing, loss masks).")
	w("  _component_: whisperc_support.torchtune_dataset")
	if f.Data.Format == compiler.FormatHF {
		w("  format: hf  # dataset.format")
		w("  source: %s", yamlStr(f.Data.HF))
		w("  split: train")
	} else {
		w("  format: %s  # dataset.format", f.Data.Format)
		w("  data_files: %s", yamlStr(l.rel(f.Data.Source)))
	}
	w("  column: %s  # dataset.field", yamlStr(f.Data.Field))
	w("  seq_len: %d  # dataset.seq_len: rows of at most seq_len + 1 tokens (inputs and shifted targets)", f.Data.SeqLen)
	w("  packing: %s  # dataset.packing", pyBool(f.Data.Packing))
	w("  truncate: %s  # dataset.truncate: cut (and count) a longer example, else it is a bad record", pyBool(f.Data.Truncate))
	w("  on_bad_record: %s  # dataset.on_bad_record", badRecordValue(f.Data))
	w("seed: %d", f.Seed)
	w("shuffle: %s  # dataset.shuffle", pyBool(f.Data.Shuffle))
	w("")
	w("optimizer:")
	w("  # whisperc_support.py: the optimizer below, wrapped so that a step whose gradient is not")
	w("  # finite is skipped and, after nan_patience in a row, the weights and moments roll back.")
	optComp := map[compiler.OptimizerName]string{compiler.OptimizerAdamW: "torch.optim.AdamW", compiler.OptimizerAdamW8bit: "bitsandbytes.optim.AdamW8bit",
		compiler.OptimizerPagedAdamW8bit: "bitsandbytes.optim.PagedAdamW8bit", compiler.OptimizerSGD: "torch.optim.SGD", compiler.OptimizerLion: "bitsandbytes.optim.Lion"}[f.Optimizer.Name]
	w("  _component_: whisperc_support.guarded_optimizer")
	w("  optimizer: %s  # optimizer.name = %s", optComp, f.Optimizer.Name)
	if f.Optimizer.Name == compiler.OptimizerAdamW {
		w("  fused: True  # one kernel per step, no full-size temporaries (as torchtune's own configs)")
	}
	w("  lr: %s", yamlFloat(f.Optimizer.LR))
	w("  weight_decay: %s", yamlFloat(f.Optimizer.WeightDecay))
	if f.Optimizer.Name == compiler.OptimizerSGD {
		w("  momentum: 0.9")
	}
	w("  nan_patience: %d  # finetune.nan_patience", f.NaN.Patience)
	w("  nan_lr_factor: %s  # finetune.nan_lr_factor", yamlFloat(f.NaN.LRFactor))
	w("  nan_rollbacks: %d  # finetune.nan_rollbacks", f.NaN.Rollbacks)
	switch {
	case f.SaveEvery.N > 0 && f.SaveEvery.Unit == "steps":
		w("  snapshot_every: %d  # the last good state every save_every steps, where whisperc run checkpoints", f.SaveEvery.N)
	case f.SaveEvery.N > 0 && f.SaveEvery.Unit == "epochs":
		w("  snapshot_epochs: %d  # the last good state every save_every epochs, where whisperc run checkpoints", f.SaveEvery.N)
		w("  batch_size: ${batch_size}  # with the dataset's rows, the steps of an epoch")
		w("  gradient_accumulation_steps: ${gradient_accumulation_steps}")
	default:
		w("  snapshot_every: 0  # save_every unset: the last good state is the start, as in whisperc run")
	}
	w("lr_scheduler:")
	w("  _component_: schedule.warmup_schedule  # schedule.py, beside this file")
	w("  shape: %s  # optimizer.schedule", f.Optimizer.Schedule)
	if f.Optimizer.Warmup.IsPercent {
		w("  warmup_ratio: %s  # optimizer.warmup = %g%%", yamlFloat(f.Optimizer.Warmup.Percent/100), f.Optimizer.Warmup.Percent)
	} else {
		w("  warmup_steps: %d  # optimizer.warmup", f.Optimizer.Warmup.Steps)
	}
	w("loss:")
	w("  _component_: torchtune.modules.loss.CEWithChunkedOutputLoss  # logits cast to fp32 one chunk at a time")
	if f.LossChunks > 0 {
		w("  num_output_chunks: %d  # loss_chunks", f.LossChunks)
	}
	w("")
	w("batch_size: %d  # per GPU", f.Batch)
	w("gradient_accumulation_steps: %d  # effective batch %d sequences", max(f.GradAccum, 1), f.Batch*max(f.GradAccum, 1)*n)
	if f.MaxSteps > 0 {
		w("epochs: 1")
		w("max_steps_per_epoch: %d  # max_steps", f.MaxSteps)
	} else {
		w("epochs: %d", max(f.Epochs, 1))
		w("max_steps_per_epoch: null")
	}
	switch {
	case kind == "full" && f.OptimizerInBackward:
		w("clip_grad_norm: null  # optimizer_in_bwd applies each gradient as it is made: nothing left to clip")
	case f.MaxGradNorm > 0:
		w("clip_grad_norm: %s  # max_grad_norm", yamlFloat(f.MaxGradNorm))
	default:
		w("clip_grad_norm: null  # max_grad_norm = 0: no clipping")
	}
	w("compile: %s  # ML005: compile = %s", pyBool(f.Compile != compiler.CompileNone), f.Compile)
	if kind == "full" {
		w("optimizer_in_bwd: %s  # optimizer_in_backward: step and free each gradient in backward", pyBool(f.OptimizerInBackward))
	}
	if n > 1 {
		reshard := dist == nil || dist.Strategy != compiler.StrategyZeRO2
		w("fsdp_cpu_offload: %s  # distributed.cpu_offload", pyBool(dist != nil && dist.CPUOffload))
		w("fsdp_reshard_after_forward: %s  # distributed.strategy = %s", pyBool(reshard), strategyName(dist))
	}
	w("")
	w("device: cuda")
	w("dtype: %s  # precision: weights, activations, gradients and optimizer state in %s", f.Precision, f.Precision)
	w("enable_activation_checkpointing: %s  # ML002: checkpointing = %s", pyBool(f.Checkpointing.Mode == compiler.CheckpointFull), f.Checkpointing.Mode)
	w("enable_activation_offloading: %s  # activation_offloading", pyBool(f.ActivationOffloading))
	w("")
	w("# ML006: torchtune's attention calls torch.nn.functional.scaled_dot_product_attention;")
	w("# attention = %s in the plan.", choice(st, "attention", "sdpa"))
	w("")
	w("metric_logger:")
	if tr := l.prog.Track; tr != nil {
		switch tr.Backend {
		case compiler.BackendTensorBoard:
			w("  _component_: torchtune.training.metric_logging.TensorBoardLogger  # ML007")
			w("  log_dir: %s", yamlStr(l.rel(tr.Dir)))
		case compiler.BackendMLflow:
			w("  _component_: torchtune.training.metric_logging.MLFlowLogger  # ML007")
			if tr.Project != "" {
				w("  experiment_name: %s", yamlStr(tr.Project))
			}
		case compiler.BackendWandB:
			w("  _component_: torchtune.training.metric_logging.WandBLogger  # ML007")
			if tr.Project != "" {
				w("  project: %s", yamlStr(tr.Project))
			}
		default:
			w("  _component_: torchtune.training.metric_logging.DiskLogger  # ML007 (text lines, not JSON)")
			w("  log_dir: %s", yamlStr(l.rel(tr.Dir)))
		}
	} else {
		// No tracking backend: each step's line ("Step N | loss:... peak_memory_alloc:...")
		// goes to stdout, where whisperc run records it.
		w("  _component_: torchtune.training.metric_logging.StdoutLogger  # each step's metrics and peaks on stdout, for whisperc run")
	}
	w("log_every_n_steps: 1")
	w("log_peak_memory_stats: True  # peak_memory_alloc/reserved/active, for whisperc run's record")

	argv := []string{"tune", "run"}
	if n > 1 {
		argv = append(argv, "--nproc_per_node", fmt.Sprint(n))
	}
	argv = append(argv, recipe, "--config", "config.yaml")
	l.add(prefix+"config.yaml", y.String(), false)
	l.add(prefix+"schedule.py", scheduleModule(l.srcName()), false)
	l.add(prefix+"whisperc_support.py", supportModule, false)
	l.add(prefix+"run.sh", ttRunScript(argv, modelDir, ref, m.Source.Scheme == compiler.SchemeHF), true)
	pins := append([]string{}, torchtunePins...)
	if strings.HasPrefix(optComp, "bitsandbytes.") {
		pins = append(pins, pinBitsandbytesTorchtune)
	}
	if tr := l.prog.Track; tr != nil && trackPins[tr.Backend.String()] != "" {
		pins = append(pins, trackPins[tr.Backend.String()])
	}
	l.add(prefix+"requirements.txt", requirements("Python packages for torchtune's recipe.", pins), false)
	var r strings.Builder
	fmt.Fprintf(&r, "# %s on torchtune\n\n", f.Name)
	fmt.Fprintf(&r, "Lowered by `whisperc export --engine torchtune` from `%s`: %s of `%s` with the built-in recipe `%s`.\n\n",
		l.srcName(), methodWords(f.Method), ref, recipe)
	r.WriteString("```sh\n")
	r.WriteString("python3 -m venv .venv && . .venv/bin/activate\n")
	r.WriteString("pip install -r requirements.txt\n")
	if m.Source.Scheme == compiler.SchemeHF {
		fmt.Fprintf(&r, "tune download %s --output-dir %s\n", ref, modelDir)
	}
	r.WriteString("bash run.sh   # " + shJoin(argv) + " checkpointer.checkpoint_files=[...]\n")
	r.WriteString("```\n\n")
	r.WriteString("Files: `config.yaml` (the recipe's configuration; each setting cites its rule), `schedule.py` (the warmup and\n" +
		"decay the pipeline asks for, as a torchtune component), `whisperc_support.py` (the dataset and the optimizer's\n" +
		"non-finite-step guard, as `whisperc run` has them), `run.sh`, `requirements.txt` (exact pins).\n\n")
	writePlanSummary(&r, st)
	r.WriteString("torchtune trains in `dtype` throughout (no fp32 master weights) and computes the loss with\n" +
		"`CEWithChunkedOutputLoss`, so its peak differs from the Hugging Face export's; plan with `--engine torchtune` to see it.\n" +
		"With `log_peak_memory_stats: True` the recipe logs its allocator peaks each step.\n")
	l.add(prefix+"README.md", r.String(), false)
	l.out.Commands = append(l.out.Commands, Command{Stage: "train." + f.Name, Argv: []string{"bash", "run.sh"}, Launcher: "tune",
		Install: "pip install -r " + prefix + "requirements.txt  (Python 3.10+, CUDA GPU; then `tune` is on PATH)"})
}

func strategyName(d *compiler.Distributed) string {
	if d == nil {
		return "fsdp"
	}
	return d.Strategy.String()
}

func tokenizerPkg(tm ttModel) string {
	if tm.pkg == "torchtune.models.llama3_1" || tm.pkg == "torchtune.models.llama3_2" {
		return "torchtune.models.llama3"
	}
	return tm.pkg
}

// ttShapes writes the family builder's shape arguments.
func ttShapes(w func(string, ...any), m *planner.ModelInfo) {
	w("  # %s's shapes (the Llama 2 family builder)", m.Architecture)
	w("  vocab_size: %d", m.Vocab)
	w("  num_layers: %d", m.Layers)
	w("  num_heads: %d", m.Heads)
	w("  num_kv_heads: %d", m.KVHeads)
	w("  embed_dim: %d", m.Hidden)
	w("  intermediate_dim: %d", m.FFN)
	w("  max_seq_len: %d", m.Context)
}

// yamlStr renders a YAML double-quoted scalar when the plain form could be
// misread, else the plain form.
func yamlStr(s string) string {
	if s == "" || pyStr(s) != `"`+s+`"` || strings.ContainsAny(s, ":#{}[],&*!|>'\"%@`\n\t") || strings.TrimSpace(s) != s ||
		strings.ContainsAny(s[:1], "-?") || isYAMLWord(s) {
		return pyStr(s)
	}
	return s
}

func isYAMLWord(s string) bool {
	switch strings.ToLower(s) {
	case "true", "false", "yes", "no", "on", "off", "null", "~", "y", "n":
		return true
	}
	if _, err := fmt.Sscanf(s, "%g", new(float64)); err == nil {
		return true
	}
	return false
}

// scheduleModule is the learning-rate schedule component: warmup for a
// number of steps or a share of the run, then constant, linear or cosine.
func scheduleModule(src string) string {
	return `"""Learning-rate schedules for torchtune's recipes, lowered by whisperc from ` + src + `.

The recipe instantiates lr_scheduler with the optimizer, num_training_steps
and last_epoch; warmup may be a number of steps or a share of the run, which
torchtune's own schedulers cannot take.
"""
import math

from torch.optim.lr_scheduler import LambdaLR


def warmup_schedule(optimizer, num_training_steps, shape="cosine", warmup_steps=0, warmup_ratio=0.0, last_epoch=-1):
    """Linear warmup, then constant, linear or cosine decay to zero."""
    if shape not in ("constant", "linear", "cosine"):
        raise ValueError("shape must be constant, linear or cosine, not %r" % (shape,))
    warm = int(warmup_steps) if warmup_steps else math.ceil(float(warmup_ratio) * num_training_steps)

    def factor(step):
        if step < warm:
            return (step + 1) / (warm + 1)
        if shape == "constant":
            return 1.0
        done = (step - warm) / max(1, num_training_steps - warm)
        if shape == "linear":
            return max(0.0, 1.0 - done)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, done)))

    return LambdaLR(optimizer, factor, last_epoch)
`
}

// ttRunScript lists the checkpoint's shards and runs the recipe.
func ttRunScript(argv []string, modelDir, ref string, hub bool) string {
	var b strings.Builder
	b.WriteString("#!/usr/bin/env bash\n")
	b.WriteString("# Runs torchtune's recipe on the downloaded checkpoint; lowered by whisperc.\n")
	b.WriteString("set -euo pipefail\n")
	b.WriteString("cd \"$(dirname \"$0\")\"\n")
	fmt.Fprintf(&b, "dir=%s\n", shQuote(modelDir))
	b.WriteString("if ! ls \"$dir\"/*.safetensors >/dev/null 2>&1; then\n")
	if hub {
		fmt.Fprintf(&b, "  echo \"run.sh: no *.safetensors in $dir; download them first: tune download %s --output-dir $dir\" >&2\n", ref)
	} else {
		b.WriteString("  echo \"run.sh: no *.safetensors in $dir\" >&2\n")
	}
	b.WriteString("  exit 1\n")
	b.WriteString("fi\n")
	b.WriteString("files=$(cd \"$dir\" && ls *.safetensors | paste -sd, -)\n")
	b.WriteString("export PYTHONPATH=\"$PWD${PYTHONPATH:+:$PYTHONPATH}\"  # schedule.py, whisperc_support.py\n")
	b.WriteString("exec " + shJoin(argv) + " \"checkpointer.checkpoint_files=[$files]\" \"$@\"\n")
	return b.String()
}

// writePlanSummary writes what the plan predicts for the stage.
func writePlanSummary(b *strings.Builder, st *plannerStage) {
	if st == nil || st.Memory == nil {
		return
	}
	mem := st.Memory
	var alloc, reserve, ctx int64
	for _, c := range mem.Components {
		switch c.Name {
		case "allocator_reserve":
			reserve = c.Bytes
		case "cuda_context":
			ctx = c.Bytes
		default:
			alloc += c.Bytes
		}
	}
	fmt.Fprintf(b, "The plan predicts, per GPU (%d in all): %s allocated by PyTorch at the peak (%s; what\n"+
		"`torch.cuda.max_memory_allocated` reports), %s more held by the caching allocator, and %s of CUDA context:\n"+
		"%s in all, the figure to compare with nvidia-smi.\n\n",
		mem.Devices, gibs(alloc), mem.Phase, gibs(reserve), gibs(ctx), gibs(mem.TotalBytes))
}

func gibs(n int64) string { return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30)) }

// yamlFloat renders a float that YAML 1.1 loaders (PyYAML, OmegaConf) read
// as a float: with a decimal point before any exponent ("1.0e-05", not
// "1e-05", which PyYAML reads as a string).
func yamlFloat(x float64) string {
	s := pyFloat(x)
	if i := strings.IndexAny(s, "eE"); i >= 0 && !strings.Contains(s[:i], ".") {
		s = s[:i] + ".0" + s[i:]
	}
	return s
}
