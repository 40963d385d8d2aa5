package engines

import (
	_ "embed"
	"fmt"
	"math"
	"strings"

	"github.com/modelwhisperer/whisperc/compiler"
	"github.com/modelwhisperer/whisperc/lang/diag"
)

// hfScript collects the settings of train.py as lines with their comments.
type pyLines struct{ b strings.Builder }

// kw writes "    name=value,  # comment".
func (p *pyLines) kw(indent, name, value, comment string) {
	line := indent + name + "=" + value + ","
	if comment != "" {
		line += "  # " + comment
	}
	p.b.WriteString(line + "\n")
}

func (p *pyLines) line(s string) { p.b.WriteString(s + "\n") }

// hf lowers one finetune to a TRL SFTTrainer script and its Accelerate
// (and DeepSpeed) configuration.
func (l *lowerer) hf(f *compiler.Finetune, prefix string) {
	st := l.trainStage(f)
	m := f.Model
	if m == nil || f.Data == nil {
		return
	}
	ref, ok := l.hubRef(m)
	if !ok {
		l.report(diag.Errorf(m.ValueRange("source"), codeUnsupported, "hf cannot load "+m.Source.Scheme.String()+" models",
			fmt.Sprintf("transformers loads Hugging Face checkpoints (hf:ORG/NAME or safetensors:DIR); %s is a %s source. "+
				"Point source at the model's Hugging Face checkpoint to fine-tune it on a GPU.", m.Source.Raw, m.Source.Scheme)))
		return
	}
	site := &f.Decl.Site
	ok = true
	need := func(decision, value string, ranges ...any) string {
		rng := site.NameRange
		if len(ranges) > 0 {
			switch r := ranges[0].(type) {
			case string:
				rng = site.ValueRange(r)
			case *compiler.Site:
				rng = r.ValueRange(ranges[1].(string))
			}
		}
		k, good := l.need(decision, value, rng)
		ok = ok && good
		return k
	}
	method := f.Method.String()
	need("method", method, "method")
	q := m.Quantize
	quantized := q != nil && q.Method != compiler.DTypeInvalid
	if quantized {
		need("quantize.method", q.Method.String(), &q.Site, "method")
		if q.Method == compiler.QuantNF4 || q.Method == compiler.QuantFP4 {
			need("quantize.double", boolWord(q.Double), &q.Site, "double")
			bs := "64"
			if q.BlockSize != 0 && q.BlockSize != 64 {
				bs = "other"
			}
			need("quantize.block_size", bs, &q.Site, "block_size")
		}
		need("quantize.compute", q.Compute.String(), &q.Site, "compute")
	}
	ckpt := f.Checkpointing.Mode.String()
	need("checkpointing", ckpt, "checkpointing")
	att := choice(st, "attention", "sdpa")
	attKey := need("attention", att, "attention")
	comp := f.Compile.String()
	compKey := need("compile", comp, "compile")
	need("precision", f.Precision.String(), "precision")
	need("optimizer.name", f.Optimizer.Name.String(), &f.Optimizer.Site, "name")
	schedKey := need("optimizer.schedule", f.Optimizer.Schedule.String(), &f.Optimizer.Site, "schedule")
	warm := "percent"
	if !f.Optimizer.Warmup.IsPercent {
		warm = "steps"
	}
	need("optimizer.warmup", warm, &f.Optimizer.Site, "warmup")
	need("dataset.format", f.Data.Format.String(), &f.Data.Decl.Site, "format")
	need("dataset.truncate", truncateValue(f.Data), &f.Data.Decl.Site, "truncate")
	need("dataset.on_bad_record", badRecordValue(f.Data), &f.Data.Decl.Site, "on_bad_record")
	need("nan_rollbacks", nanRollbacksValue(f), "nan_rollbacks")
	n := devices(st)
	dist := f.Distributed
	strategy := ""
	if dist != nil && n > 1 {
		strategy = dist.Strategy.String()
		need("distributed.strategy", strategy, &dist.Site, "strategy")
		need("distributed.engine", dist.Engine.String(), &dist.Site, "engine")
	}
	if l.prog.Track != nil {
		need("track.backend", l.prog.Track.Backend.String(), &l.prog.Track.Decl.Site, "backend")
		l.oneTrackBackend()
	}
	if f.LossChunks > 0 {
		need("loss_chunks", "set", "loss_chunks")
	}
	if f.OptimizerInBackward {
		need("optimizer_in_backward", "true", "optimizer_in_backward")
	}
	if !ok {
		return
	}

	// ZeRO stages run on DeepSpeed (launched by Accelerate either way);
	// fsdp on PyTorch FSDP2 through Accelerate.
	useDeepSpeed := dist != nil && n > 1 && (dist.Strategy == compiler.StrategyZeRO2 || dist.Strategy == compiler.StrategyZeRO3)
	useFSDP := dist != nil && n > 1 && dist.Strategy == compiler.StrategyFSDP
	if dist != nil && dist.CPUOffload && !useDeepSpeed && !useFSDP {
		l.report(diag.Errorf(dist.ValueRange("cpu_offload"), codeUnsupported, "cpu_offload needs a sharded strategy",
			"CPU offload moves sharded state to host memory: DeepSpeed's ZeRO (zero2, zero3) or FSDP on two or more GPUs. "+
				"Write strategy = zero2, zero3 or fsdp with gpus of 2 or more, or remove cpu_offload."))
		return
	}
	if dist != nil && n > 1 && dist.Engine == compiler.EngineDeepSpeed && !useDeepSpeed {
		l.report(diag.Errorf(dist.ValueRange("engine"), codeUnsupported, "engine = deepspeed needs a ZeRO strategy",
			fmt.Sprintf("DeepSpeed implements the ZeRO stages; strategy = %s runs on PyTorch through Accelerate. "+
				"Write engine = accelerate, or strategy = zero2 or zero3.", dist.Strategy)))
		return
	}
	src := l.opts.Source
	if src == "" {
		src = l.prog.Root
	}

	var p pyLines
	p.line("#!/usr/bin/env python3")
	p.line(fmt.Sprintf(`"""Fine-tune %s: %s of %s, lowered by whisperc from %s.`, f.Name, methodWords(f.Method), ref, src))
	p.line("")
	p.line("Launch from this directory:")
	p.line("")
	p.line("    " + shJoin(hfLaunch(n)))
	p.line("")
	p.line("Each setting is the plan's; the comment after it names the rule (ML001...)")
	p.line("or the plan decision behind it. `whisperc explain ML001` gives the reasons.")
	p.line(`"""`)
	p.line("import json")
	p.line("import os")
	p.line("from pathlib import Path")
	p.line("")
	p.line("import torch")
	readsFile := f.Data.Format == compiler.FormatJSONL || f.Data.Format == compiler.FormatText
	if readsFile {
		p.line("from datasets import Dataset")
	} else {
		p.line("from datasets import Dataset, load_dataset")
	}
	imports := []string{"AutoModelForCausalLM", "AutoTokenizer", "TrainerCallback"}
	if quantized {
		imports = append(imports, "BitsAndBytesConfig")
	}
	if f.LoRA != nil {
		p.line("from peft import LoraConfig")
	}
	p.line("from transformers import " + strings.Join(sortedCopy(imports), ", "))
	p.line("from trl import SFTConfig, SFTTrainer")
	if readsFile {
		p.line("from whisperc_support import NonFiniteGuard, RecordLog, check_lengths, hf_rows, read_records, record_text")
	} else {
		p.line("from whisperc_support import NonFiniteGuard, RecordLog, check_lengths, check_rows, hf_rows, record_text")
	}
	p.line("")
	p.line("HERE = Path(__file__).resolve().parent")
	p.line("MODEL = " + modelExpr(m, ref))
	dataExpr := ""
	if f.Data.Format == compiler.FormatHF {
		dataExpr = pyStr(f.Data.HF)
	} else {
		dataExpr = "str(HERE / " + pyStr(l.rel(f.Data.Source)) + ")"
	}
	p.line("DATA = " + dataExpr)
	dataName := f.Data.HF
	if f.Data.Format != compiler.FormatHF {
		dataName = l.rel(f.Data.Source)
	}
	p.line("DATA_NAME = " + pyStr(dataName) + "  # as bad records name it (file:line)")
	p.line("FIELD = " + pyStr(f.Data.Field) + "  # dataset.field")
	p.line(fmt.Sprintf("SEQ_LEN = %d  # dataset.seq_len: predicted positions a row trains on", f.Data.SeqLen))
	p.line("ROW_TOKENS = SEQ_LEN + 1  # a row of SEQ_LEN predictions holds SEQ_LEN + 1 tokens, as in whisperc run")
	p.line("PACKING = " + pyBool(f.Data.Packing) + "  # dataset.packing")
	p.line("TRUNCATE = " + pyBool(f.Data.Truncate) + "  # dataset.truncate: cut (and count) an example longer than ROW_TOKENS, else it is a bad record")
	p.line("ON_BAD_RECORD = " + pyStr(badRecordValue(f.Data)) + "  # dataset.on_bad_record: " +
		map[bool]string{true: "skip bad records, count them and name the first few", false: "stop at the first bad record with its file:line"}[f.Data.SkipBadRecords])
	p.line(fmt.Sprintf("NAN_PATIENCE = %d  # finetune.nan_patience: non-finite steps in a row before a rollback", f.NaN.Patience))
	p.line("NAN_LR_FACTOR = " + pyFloat(f.NaN.LRFactor) + "  # finetune.nan_lr_factor: the learning rate's factor at each rollback")
	p.line(fmt.Sprintf("NAN_ROLLBACKS = %d  # finetune.nan_rollbacks: the most rollbacks before the run stops", f.NaN.Rollbacks))
	p.line("OUTPUT = HERE / " + pyStr(l.rel(f.Output)))
	p.line(fmt.Sprintf("SEED = %d", f.Seed))
	if tr := l.prog.Track; tr != nil && tr.Backend == compiler.BackendTensorBoard && tr.Dir != "" {
		p.line(`os.environ.setdefault("TENSORBOARD_LOGGING_DIR", str(HERE / ` + pyStr(l.rel(tr.Dir)) + `))  # ML007: track.dir`)
	}
	if tr := l.prog.Track; tr != nil && tr.Project != "" {
		switch tr.Backend {
		case compiler.BackendWandB:
			p.line(`os.environ.setdefault("WANDB_PROJECT", ` + pyStr(tr.Project) + `)  # ML007: track.project`)
		case compiler.BackendMLflow:
			p.line(`os.environ.setdefault("MLFLOW_EXPERIMENT_NAME", ` + pyStr(tr.Project) + `)  # ML007: track.project`)
		}
	}
	p.line("")

	// the base model
	computeTorch := map[compiler.DType]string{compiler.DTypeBF16: "torch.bfloat16", compiler.DTypeFP16: "torch.float16", compiler.DTypeFP32: "torch.float32"}
	loadDType := "torch.bfloat16"
	loadWhy := "the frozen base in bf16: LoRA trains only the adapters (ML003)"
	switch {
	case f.Method == compiler.MethodFull && f.Precision != compiler.DTypeFP32:
		loadDType, loadWhy = "torch.float32", "fp32 master weights; the Trainer's autocast computes in "+f.Precision.String()
	case f.Precision == compiler.DTypeFP32:
		loadDType, loadWhy = "torch.float32", "precision = fp32"
	case f.Precision == compiler.DTypeFP16:
		loadDType, loadWhy = "torch.float16", "the frozen base in fp16 (precision = fp16)"
	}
	if quantized {
		loadDType = computeTorch[q.Compute]
		if loadDType == "" {
			loadDType = "torch.bfloat16"
		}
		loadWhy = "non-quantised parameters (embeddings, head, norms) stay in the compute format, as the plan counts them"
		p.line("# ML001: the frozen base's linear layers are quantised as they load (bitsandbytes).")
		p.line("QUANTIZATION = BitsAndBytesConfig(")
		switch q.Method {
		case compiler.QuantInt8:
			p.kw("    ", "load_in_8bit", "True", "LLM.int8(): 8-bit weights with fp16 outliers")
		default:
			p.kw("    ", "load_in_4bit", "True", "4-bit weights in blocks of 64, one absmax per block")
			p.kw("    ", "bnb_4bit_quant_type", pyStr(q.Method.String()), map[compiler.DType]string{
				compiler.QuantNF4: "ML001: NormalFloat4, information-theoretically optimal for normal weights (QLoRA)",
				compiler.QuantFP4: "ML001: 4-bit float"}[q.Method])
			p.kw("    ", "bnb_4bit_use_double_quant", pyBool(q.Double), "ML001: quantise the block constants too (0.127 bits/weight)")
			p.kw("    ", "bnb_4bit_compute_dtype", computeTorch[q.Compute], "ML001: dequantise to "+q.Compute.String()+" for the matmuls")
			if useFSDP {
				p.kw("    ", "bnb_4bit_quant_storage", computeTorch[q.Compute], "FSDP shards the packed 4-bit weights as this dtype")
			}
		}
		p.line(")")
		p.line("")
	}
	if f.LoRA != nil {
		lo := f.LoRA
		var targets []string
		for _, t := range lo.Targets {
			targets = append(targets, pyStr(t.String()))
		}
		p.line("# ML003: low-rank adapters on " + targetWords(lo) + "; only they are trained.")
		p.line("ADAPTERS = LoraConfig(")
		p.kw("    ", "r", fmt.Sprint(lo.Rank), "ML003: rank")
		p.kw("    ", "lora_alpha", pyFloat(lo.Alpha), fmt.Sprintf("updates scaled by alpha/r = %g", lo.Alpha/float64(max(lo.Rank, 1))))
		p.kw("    ", "lora_dropout", pyFloat(lo.Dropout), "dropout on the adapter input")
		need("lora.rslora", boolWord(lo.RSLoRA), &lo.Site, "rslora")
		if lo.RSLoRA {
			p.kw("    ", "use_rslora", "True", fmt.Sprintf("rank-stabilised: updates scaled by alpha/sqrt(r) = %g instead", lo.Alpha/math.Sqrt(float64(max(lo.Rank, 1)))))
		} else {
			p.kw("    ", "use_rslora", "False", "")
		}
		p.kw("    ", "target_modules", "["+strings.Join(targets, ", ")+"]", "ML003")
		p.kw("    ", "bias", pyStr("none"), "")
		p.kw("    ", "task_type", pyStr("CAUSAL_LM"), "")
		p.line(")")
		p.line("")
	}

	// data
	p.line("")
	p.line("def load_data(tokenizer):")
	p.line(`    """The dataset's records checked as whisperc run checks them (whisperc_support.py: bad`)
	p.line(`    records by ON_BAD_RECORD, long examples by TRUNCATE), shuffled with the pipeline's seed,`)
	p.line(`    and its held-out split."""`)
	p.line("    log = RecordLog(ON_BAD_RECORD)")
	switch f.Data.Format {
	case compiler.FormatHF:
		p.line(`    rows = load_dataset(DATA, split="train")`)
		p.line("    items = check_rows(rows, DATA_NAME, FIELD, log)")
	case compiler.FormatJSONL, compiler.FormatText:
		p.line(fmt.Sprintf("    items = read_records(DATA, %s, FIELD, log, name=DATA_NAME)", pyStr(f.Data.Format.String())))
	default:
		builder := map[compiler.DataFormat]string{compiler.FormatCSV: "csv", compiler.FormatParquet: "parquet"}[f.Data.Format]
		p.line(fmt.Sprintf(`    rows = load_dataset(%s, data_files=DATA, split="train")`, pyStr(builder)))
		p.line("    items = check_rows(rows, DATA_NAME, FIELD, log)")
	}
	p.line("    eos = tokenizer.eos_token_id")
	p.line("")
	p.line("    def tokens(item):")
	p.line(`        ids = tokenizer(record_text(item))["input_ids"]`)
	p.line("        return len(ids) + (0 if ids and ids[-1] == eos else 1)  # TRL appends EOS")
	p.line("")
	p.line("    items = check_lengths(items, tokens, ROW_TOKENS, TRUNCATE, PACKING, log)")
	p.line("    log.report()  # whisperc-data {...}: records, skipped, truncated, the first problems")
	p.line("    # Text records train on every token; instruction records and chats ending in their one")
	p.line("    # assistant turn become TRL's prompt-completion rows (loss on the completion and EOS).")
	p.line("    data = Dataset.from_list(hf_rows(items, FIELD))")
	if f.Data.Shuffle {
		p.line(fmt.Sprintf("    data = data.shuffle(seed=%d)  # dataset.shuffle", f.Data.Seed))
	} else {
		p.line("    # dataset.shuffle = false: the file's order is kept (the Trainer still samples randomly)")
	}
	evalKind := "none"
	switch ev := f.Data.Eval; {
	case ev.IsPercent && ev.Percent > 0:
		evalKind = "split"
		p.line(fmt.Sprintf("    parts = data.train_test_split(test_size=%s, seed=SEED)  # dataset.eval = %g%%", pyFloat(ev.Percent/100), ev.Percent))
		p.line(`    return parts["train"], parts["test"]`)
	case !ev.IsPercent && ev.Examples > 0:
		evalKind = "split"
		p.line(fmt.Sprintf("    parts = data.train_test_split(test_size=%d, seed=SEED)  # dataset.eval = %d examples", ev.Examples, ev.Examples))
		p.line(`    return parts["train"], parts["test"]`)
	default:
		p.line("    return data, None")
	}
	need("dataset.eval", evalKind, &f.Data.Decl.Site, "eval")
	p.line("")
	p.line("")

	// callbacks: metrics and the decisions check
	p.line("class RunRecord(TrainerCallback):")
	p.line(`    """Prints what took effect once training starts (the Trainer turns checkpointing on`)
	p.line(`    in train()) and the CUDA allocator's peaks at the end, for whisperc run's record."""`)
	p.line("")
	p.line("    def on_train_begin(self, args, state, control, model=None, **kwargs):")
	p.line("        if state.is_world_process_zero and model is not None:")
	p.line("            report_decisions(model)")
	p.line("")
	p.line("    def on_train_end(self, args, state, control, **kwargs):")
	p.line("        if not torch.cuda.is_available():")
	p.line("            return")
	p.line("        record = {")
	p.line(`            "peak_allocated_bytes": torch.cuda.max_memory_allocated(),`)
	p.line(`            "peak_reserved_bytes": torch.cuda.max_memory_reserved(),`)
	p.line(`            "steps": state.global_step,`)
	p.line("        }")
	p.line(`        print("whisperc-metrics " + json.dumps(record, sort_keys=True), flush=True)`)
	p.line("")
	p.line("")
	jsonl := l.prog.Track != nil && l.prog.Track.Backend == compiler.BackendJSONL
	if jsonl {
		p.line("class JSONLMetrics(TrainerCallback):")
		p.line(`    """ML007: one JSON line per logging step, as track { backend = jsonl } records."""`)
		p.line("")
		p.line("    def __init__(self, path):")
		p.line("        self.path = path")
		p.line("")
		p.line("    def on_log(self, args, state, control, logs=None, **kwargs):")
		p.line("        if not state.is_world_process_zero or not logs:")
		p.line("            return")
		p.line("        self.path.parent.mkdir(parents=True, exist_ok=True)")
		p.line(`        with self.path.open("a") as out:`)
		p.line(`            out.write(json.dumps(dict(logs, step=state.global_step), sort_keys=True) + "\n")`)
		p.line("")
		p.line("")
	}
	if f.Checkpointing.Mode == compiler.CheckpointEvery {
		p.line("class CheckpointEvery(TrainerCallback):")
		p.line(`    """ML002: checkpoint every k-th decoder layer only, keeping the others' activations."""`)
		p.line("")
		p.line("    def __init__(self, every):")
		p.line("        self.every = every")
		p.line("")
		p.line("    def on_train_begin(self, args, state, control, model=None, **kwargs):")
		p.line(`        layers = [m for m in model.modules() if type(m).__name__.endswith("DecoderLayer")]`)
		p.line("        for i, layer in enumerate(layers):")
		p.line("            layer.gradient_checkpointing = i % self.every == 0")
		p.line(`        kept = sum(bool(getattr(layer, "gradient_checkpointing", False)) for layer in layers)`)
		p.line(`        print("whisperc-decisions " + json.dumps({"checkpointed_layers": kept, "layers": len(layers)}), flush=True)`)
		p.line("")
		p.line("")
	}
	p.line("def is_bnb(module, name):")
	p.line(`    """Reports whether module is bitsandbytes' own layer: PEFT's LoRA wrappers around them share the class name."""`)
	p.line(`    return type(module).__name__ == name and type(module).__module__.startswith("bitsandbytes")`)
	p.line("")
	p.line("")
	p.line("def report_decisions(model):")
	p.line(`    """Prints what took effect, so that a run shows each decision held."""`)
	p.line("    record = {")
	p.line(`        "linear4bit": sum(is_bnb(m, "Linear4bit") for m in model.modules()),`)
	p.line(`        "linear8bit": sum(is_bnb(m, "Linear8bitLt") for m in model.modules()),`)
	p.line(`        "gradient_checkpointing": bool(getattr(model, "is_gradient_checkpointing", False)),`)
	p.line(`        "attn_implementation": model.config._attn_implementation,`)
	p.line(`        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),`)
	p.line("    }")
	p.line(`    print("whisperc-decisions " + json.dumps(record, sort_keys=True), flush=True)`)
	p.line("")
	p.line("")

	p.line("class GuardedTrainer(SFTTrainer):")
	p.line(`    """SFTTrainer whose optimizer skips a step whose gradient is not finite and, after`)
	p.line(`    NAN_PATIENCE in a row, rolls back to the last checkpoint saved (or the start) with the`)
	p.line(`    learning rate times NAN_LR_FACTOR, at most NAN_ROLLBACKS times (whisperc_support.py)."""`)
	p.line("")
	p.line("    guard = None")
	p.line("")
	p.line("    def create_optimizer(self, *args, **kwargs):")
	p.line("        optimizer = super().create_optimizer(*args, **kwargs)")
	p.line("        if not isinstance(optimizer, NonFiniteGuard):")
	p.line("            self.guard = NonFiniteGuard(optimizer, patience=NAN_PATIENCE, lr_factor=NAN_LR_FACTOR, rollbacks=NAN_ROLLBACKS)")
	p.line("            self.optimizer = self.guard")
	p.line("        return self.optimizer")
	p.line("")
	p.line("")
	p.line("class GuardSnapshots(TrainerCallback):")
	p.line(`    """Each checkpoint saved becomes the guard's last good state, as in whisperc run."""`)
	p.line("")
	p.line("    def __init__(self, trainer):")
	p.line("        self.trainer = trainer")
	p.line("")
	p.line("    def on_save(self, args, state, control, **kwargs):")
	p.line("        if self.trainer.guard is not None:")
	p.line("            self.trainer.guard.snapshot()")
	p.line("")
	p.line("")

	// main
	p.line("def main():")
	p.line("    tokenizer = AutoTokenizer.from_pretrained(MODEL)")
	p.line("    if tokenizer.pad_token is None:")
	p.line("        tokenizer.pad_token = tokenizer.eos_token")
	p.line("    model = AutoModelForCausalLM.from_pretrained(")
	p.line("        MODEL,")
	p.kw("        ", "dtype", loadDType, loadWhy)
	p.kw("        ", "attn_implementation", strings.TrimPrefix(attKey, "attn_implementation="), "ML006: "+attentionWhy(st))
	if quantized {
		p.kw("        ", "quantization_config", "QUANTIZATION", "ML001")
		if !useFSDP {
			p.kw("        ", "device_map", `{"": int(os.environ.get("LOCAL_RANK", 0))}`, "each process loads its quantised copy on its own GPU")
		}
	}
	p.line("    )")
	p.line("    train, held_out = load_data(tokenizer)")
	p.line("    args = SFTConfig(")
	p.kw("        ", "output_dir", "str(OUTPUT)", "finetune.output")
	p.kw("        ", "per_device_train_batch_size", fmt.Sprint(f.Batch), "micro-batch per GPU")
	p.kw("        ", "gradient_accumulation_steps", fmt.Sprint(max(f.GradAccum, 1)),
		fmt.Sprintf("effective batch %d sequences", f.Batch*max(f.GradAccum, 1)*n))
	p.kw("        ", "num_train_epochs", fmt.Sprint(max(f.Epochs, 1)), "")
	if f.MaxSteps > 0 {
		p.kw("        ", "max_steps", fmt.Sprint(f.MaxSteps), "overrides epochs")
	} else {
		p.kw("        ", "max_steps", "-1", "epochs decide")
	}
	p.kw("        ", "learning_rate", pyFloat(f.Optimizer.LR), "")
	p.kw("        ", "lr_scheduler_type", strings.TrimPrefix(schedKey, "lr_scheduler_type="), "")
	if f.Optimizer.Warmup.IsPercent {
		// transformers 5 takes the ratio as a float warmup_steps below 1
		// (warmup_ratio was deprecated in 5.0 and removed in 5.2).
		p.kw("        ", "warmup_steps", pyFloat(f.Optimizer.Warmup.Percent/100), fmt.Sprintf("optimizer.warmup = %g%%: a float below 1 is a share of the run", f.Optimizer.Warmup.Percent))
	} else {
		p.kw("        ", "warmup_steps", fmt.Sprint(f.Optimizer.Warmup.Steps), "")
	}
	p.kw("        ", "weight_decay", pyFloat(f.Optimizer.WeightDecay), "")
	optim := map[compiler.OptimizerName]string{compiler.OptimizerAdamW: "adamw_torch_fused", compiler.OptimizerAdamW8bit: "adamw_bnb_8bit",
		compiler.OptimizerPagedAdamW8bit: "paged_adamw_8bit", compiler.OptimizerSGD: "sgd", compiler.OptimizerLion: "lion_32bit"}[f.Optimizer.Name]
	optWhy := map[compiler.OptimizerName]string{compiler.OptimizerAdamW: "two fp32 moments per trained parameter",
		compiler.OptimizerAdamW8bit: "8-bit block-wise moments (bitsandbytes)", compiler.OptimizerPagedAdamW8bit: "8-bit moments that page to host memory under pressure (QLoRA)",
		compiler.OptimizerSGD: "SGD", compiler.OptimizerLion: "Lion, one moment per parameter (bitsandbytes)"}[f.Optimizer.Name]
	p.kw("        ", "optim", pyStr(optim), optWhy)
	switch f.Precision {
	case compiler.DTypeBF16:
		p.line("        bf16=True, fp16=False,  # mixed precision in bf16 (compute capability 8.0+)")
	case compiler.DTypeFP16:
		p.line("        bf16=False, fp16=True,  # mixed precision in fp16 with dynamic loss scaling")
	default:
		p.line("        bf16=False, fp16=False,  # fp32 throughout")
	}
	gc := f.Checkpointing.Mode == compiler.CheckpointFull || f.Checkpointing.Mode == compiler.CheckpointEvery
	if useFSDP {
		p.kw("        ", "gradient_checkpointing", "False", "ML002: FSDP checkpoints the layers itself (fsdp_activation_checkpointing in accelerate.yaml)")
	} else {
		p.kw("        ", "gradient_checkpointing", pyBool(gc), "ML002: "+map[compiler.CheckpointMode]string{compiler.CheckpointFull: "recompute each layer in the backward pass",
			compiler.CheckpointEvery: fmt.Sprintf("every(%d): CheckpointEvery keeps it on every %d-th layer", f.Checkpointing.Every, f.Checkpointing.Every),
			compiler.CheckpointNone:  "keep every activation"}[f.Checkpointing.Mode])
		if gc {
			p.kw("        ", "gradient_checkpointing_kwargs", `{"use_reentrant": False}`, "")
		}
	}
	if f.Compile == compiler.CompileNone {
		p.kw("        ", "torch_compile", "False", "ML005: compile = none")
	} else {
		p.kw("        ", "torch_compile", "True", "ML005")
		p.kw("        ", "torch_compile_mode", strings.TrimPrefix(compKey, "torch_compile_mode="), "ML005: compile = "+comp)
	}
	switch {
	case f.SaveEvery.N > 0 && f.SaveEvery.Unit == "steps":
		need("save_every", "steps", "save_every")
		p.kw("        ", "save_strategy", pyStr("steps"), "")
		p.kw("        ", "save_steps", fmt.Sprint(f.SaveEvery.N), "finetune.save_every")
	case f.SaveEvery.N > 0:
		need("save_every", "epochs", "save_every")
		p.kw("        ", "save_strategy", pyStr("epoch"), fmt.Sprintf("every %d epochs in the plan; the Trainer saves every epoch", f.SaveEvery.N))
	default:
		p.kw("        ", "save_strategy", pyStr("no"), "the final model is saved at the end")
	}
	switch {
	case evalKind == "split" && f.EvalEvery.N > 0 && f.EvalEvery.Unit == "steps":
		need("eval_every", "steps", "eval_every")
		p.kw("        ", "eval_strategy", pyStr("steps"), "")
		p.kw("        ", "eval_steps", fmt.Sprint(f.EvalEvery.N), "finetune.eval_every")
	case evalKind == "split" && f.EvalEvery.N > 0:
		need("eval_every", "epochs", "eval_every")
		p.kw("        ", "eval_strategy", pyStr("epoch"), fmt.Sprintf("every %d epochs in the plan; the Trainer evaluates every epoch", f.EvalEvery.N))
	case evalKind == "split":
		p.kw("        ", "eval_strategy", pyStr("epoch"), "evaluate on the held-out split after each epoch")
	default:
		p.kw("        ", "eval_strategy", pyStr("no"), "dataset.eval = 0")
	}
	if f.MaxGradNorm > 0 {
		need("max_grad_norm", "set", "max_grad_norm")
		p.kw("        ", "max_grad_norm", pyFloat(f.MaxGradNorm), "clip gradients by global norm")
	} else {
		need("max_grad_norm", "off", "max_grad_norm")
		p.kw("        ", "max_grad_norm", "0.0", "max_grad_norm = 0: no clipping")
	}
	p.kw("        ", "seed", "SEED", "")
	p.kw("        ", "data_seed", "SEED", "")
	p.kw("        ", "max_length", "ROW_TOKENS", "dataset.seq_len + 1: TRL's max_length counts tokens, seq_len predictions")
	p.kw("        ", "packing", pyBool(f.Data.Packing), "dataset.packing")
	p.kw("        ", "dataset_text_field", "FIELD", "dataset.field")
	if f.LossChunks > 0 {
		p.kw("        ", "use_liger_kernel", "True", fmt.Sprintf("loss_chunks = %d: Liger's fused linear cross-entropy never materialises the logits", f.LossChunks))
	} else {
		p.kw("        ", "loss_type", pyStr("chunked_nll"), "loss_chunks unset: TRL's chunked loss, the head and fp32 cross-entropy on 256 tokens at a time (TRL's default, written out)")
	}
	p.kw("        ", "activation_offloading", pyBool(f.ActivationOffloading), "saved activations to host memory and back")
	p.kw("        ", "logging_steps", "10", "")
	if tr := l.prog.Track; tr != nil && tr.Backend != compiler.BackendJSONL {
		p.kw("        ", "report_to", "["+pyStr(tr.Backend.String())+"]", "ML007: track.backend")

	} else {
		p.kw("        ", "report_to", "[]", "")
	}
	if useDeepSpeed {
		p.kw("        ", "deepspeed", "str(HERE / "+pyStr(dsFile(dist))+")", "ZeRO stage "+strings.TrimPrefix(strategy, "zero"))
	}
	p.line("    )")
	cbs := []string{"RunRecord()"}
	if jsonl {
		cbs = append(cbs, "JSONLMetrics(HERE / "+pyStr(l.rel(l.prog.Track.Dir)+"/"+f.Name+".jsonl")+")")
	}
	if f.Checkpointing.Mode == compiler.CheckpointEvery {
		cbs = append(cbs, fmt.Sprintf("CheckpointEvery(%d)", f.Checkpointing.Every))
	}
	callbacks := "[" + strings.Join(cbs, ", ") + "]"
	p.line("    trainer = GuardedTrainer(")
	p.line("        model=model,")
	p.line("        args=args,")
	p.line("        train_dataset=train,")
	p.line("        eval_dataset=held_out,")
	p.line("        processing_class=tokenizer,")
	if f.LoRA != nil {
		p.line("        peft_config=ADAPTERS,")
	}
	p.line("        callbacks=" + callbacks + ",")
	p.line("    )")
	p.line("    trainer.add_callback(GuardSnapshots(trainer))")
	p.line("    trainer.train()")
	p.line("    trainer.save_model(str(OUTPUT))")
	p.line("")
	p.line("")
	p.line(`if __name__ == "__main__":`)
	p.line("    main()")
	if !ok {
		return
	}
	l.add(prefix+"train.py", p.b.String(), true)
	l.add(prefix+"whisperc_support.py", supportModule, false)
	l.add(prefix+"accelerate.yaml", l.accelerateYAML(f, n, useDeepSpeed, useFSDP), false)
	if useDeepSpeed {
		l.add(prefix+dsFile(dist), deepSpeedJSON(dist.Strategy, dist.CPUOffload), false)
	}
	pins := append([]string{}, hfPins...)
	if quantized || f.Optimizer.Name == compiler.OptimizerAdamW8bit || f.Optimizer.Name == compiler.OptimizerPagedAdamW8bit || f.Optimizer.Name == compiler.OptimizerLion {
		pins = append(pins, pinBitsandbytesHF)
	}
	if useDeepSpeed {
		pins = append(pins, pinDeepSpeed)
	}
	if att == "flash2" {
		pins = append(pins, pinFlashAttn)
	}
	if f.LossChunks > 0 {
		pins = append(pins, pinLiger)
	}
	if tr := l.prog.Track; tr != nil && trackPins[tr.Backend.String()] != "" {
		pins = append(pins, trackPins[tr.Backend.String()])
	}
	l.add(prefix+"requirements.txt", requirements("Python packages for train.py (Hugging Face stack).", pins), false)
	argv := hfLaunch(n)
	l.add(prefix+"README.md", l.hfReadme(f, ref, argv, st, useDeepSpeed, useFSDP, att == "flash2"), false)
	l.out.Commands = append(l.out.Commands, Command{Stage: "train." + f.Name, Argv: argv, Launcher: "accelerate",
		Install: "pip install -r " + prefix + "requirements.txt  (Python 3.10+, CUDA GPU; then `accelerate launch` is on PATH)"})
}

func hfLaunch(n int) []string {
	return []string{"accelerate", "launch", "--config_file", "accelerate.yaml", "train.py"}
}

func dsFile(d *compiler.Distributed) string {
	if d.Strategy == compiler.StrategyZeRO2 {
		return "ds_zero2.json"
	}
	return "ds_zero3.json"
}

// accelerateYAML writes Accelerate's launcher configuration.
func (l *lowerer) accelerateYAML(f *compiler.Finetune, n int, ds, fsdp bool) string {
	var b strings.Builder
	b.WriteString("# Accelerate launcher configuration for train.py, lowered by whisperc.\n")
	b.WriteString("compute_environment: LOCAL_MACHINE\n")
	switch {
	case n <= 1:
		b.WriteString("distributed_type: 'NO'  # one GPU\n")
	case ds:
		b.WriteString(fmt.Sprintf("distributed_type: DEEPSPEED  # distributed.strategy = %s: DeepSpeed ZeRO, launched by Accelerate\n", f.Distributed.Strategy))
		b.WriteString("deepspeed_config:\n")
		b.WriteString("  deepspeed_config_file: " + dsFile(f.Distributed) + "\n")
		b.WriteString("  zero3_init_flag: " + map[bool]string{true: "true", false: "false"}[f.Distributed.Strategy == compiler.StrategyZeRO3] + "\n")
	case fsdp:
		reshard := f.Distributed.Strategy != compiler.StrategyZeRO2
		b.WriteString(fmt.Sprintf("distributed_type: FSDP  # distributed.strategy = %s\n", f.Distributed.Strategy))
		b.WriteString("fsdp_config:\n")
		b.WriteString("  fsdp_version: 2\n")
		b.WriteString("  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP  # one FSDP unit per decoder layer\n")
		fmt.Fprintf(&b, "  fsdp_reshard_after_forward: %t  # %s\n", reshard,
			map[bool]string{true: "parameters sharded too (ZeRO-3)", false: "gradients and optimizer state sharded, parameters kept after forward (ZeRO-2)"}[reshard])
		fmt.Fprintf(&b, "  fsdp_activation_checkpointing: %t  # ML002: checkpointing = %s\n", f.Checkpointing.Mode == compiler.CheckpointFull, f.Checkpointing.Mode)
		b.WriteString("  fsdp_cpu_ram_efficient_loading: true\n")
		fmt.Fprintf(&b, "  fsdp_offload_params: %t  # distributed.cpu_offload\n", f.Distributed.CPUOffload)
		b.WriteString("  fsdp_state_dict_type: SHARDED_STATE_DICT\n")
	default:
		b.WriteString("distributed_type: MULTI_GPU  # distributed.strategy = ddp: every GPU holds the whole model\n")
	}
	b.WriteString("machine_rank: 0\n")
	if !ds {
		prec := map[compiler.DType]string{compiler.DTypeBF16: "bf16", compiler.DTypeFP16: "fp16"}[f.Precision]
		if prec == "" {
			prec = "'no'"
		}
		b.WriteString("mixed_precision: " + prec + "  # finetune.precision\n")
	}
	b.WriteString("num_machines: 1\n")
	fmt.Fprintf(&b, "num_processes: %d  # GPUs\n", max(n, 1))
	b.WriteString("rdzv_backend: static\n")
	b.WriteString("same_network: true\n")
	b.WriteString("use_cpu: false\n")
	return b.String()
}

// deepSpeedJSON writes the ZeRO configuration; "auto" values are filled
// by the Trainer from train.py's arguments, so the two cannot disagree.
func deepSpeedJSON(s compiler.Strategy, offload bool) string {
	stage := 3
	if s == compiler.StrategyZeRO2 {
		stage = 2
	}
	var b strings.Builder
	b.WriteString("{\n")
	b.WriteString("  \"bf16\": {\"enabled\": \"auto\"},\n")
	b.WriteString("  \"fp16\": {\"enabled\": \"auto\"},\n")
	b.WriteString("  \"gradient_accumulation_steps\": \"auto\",\n")
	b.WriteString("  \"gradient_clipping\": \"auto\",\n")
	b.WriteString("  \"train_batch_size\": \"auto\",\n")
	b.WriteString("  \"train_micro_batch_size_per_gpu\": \"auto\",\n")
	b.WriteString("  \"zero_optimization\": {\n")
	fmt.Fprintf(&b, "    \"stage\": %d,\n", stage)
	b.WriteString("    \"overlap_comm\": true,\n")
	b.WriteString("    \"contiguous_gradients\": true,\n")
	if offload {
		b.WriteString("    \"offload_optimizer\": {\"device\": \"cpu\", \"pin_memory\": true},\n")
		if stage == 3 {
			b.WriteString("    \"offload_param\": {\"device\": \"cpu\", \"pin_memory\": true},\n")
		}
	}
	b.WriteString("    \"reduce_bucket_size\": \"auto\"")
	if stage == 3 {
		b.WriteString(",\n")
		b.WriteString("    \"stage3_prefetch_bucket_size\": \"auto\",\n")
		b.WriteString("    \"stage3_param_persistence_threshold\": \"auto\",\n")
		b.WriteString("    \"stage3_gather_16bit_weights_on_model_save\": true\n")
	} else {
		b.WriteString("\n")
	}
	b.WriteString("  }\n")
	b.WriteString("}\n")
	return b.String()
}

func (l *lowerer) hfReadme(f *compiler.Finetune, ref string, argv []string, st *plannerStage, ds, fsdp, flash bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s on Hugging Face\n\n", f.Name)
	fmt.Fprintf(&b, "Lowered by `whisperc export --engine hf` from `%s`: %s of `%s` with TRL's SFTTrainer.\n\n", l.srcName(), methodWords(f.Method), ref)
	b.WriteString("```sh\n")
	b.WriteString("python3 -m venv .venv && . .venv/bin/activate\n")
	b.WriteString("pip install -r requirements.txt")
	if flash {
		b.WriteString("  # flash-attn builds against the installed torch and CUDA")
	}
	b.WriteString("\n")
	b.WriteString(shJoin(argv) + "\n")
	b.WriteString("```\n\n")
	b.WriteString("Files: `train.py` (the script; each setting cites its rule), `accelerate.yaml` (the launcher")
	switch {
	case ds:
		b.WriteString(", DeepSpeed through `" + dsFile(f.Distributed) + "`")
	case fsdp:
		b.WriteString(", FSDP2")
	}
	b.WriteString("), `requirements.txt` (exact pins), `whisperc_support.py` (bad records, truncation and the\n" +
		"non-finite-step guard, as `whisperc run` has them; train.py imports it).\n\n")
	writePlanSummary(&b, st)
	b.WriteString("The script prints `whisperc-decisions {...}` as training starts (4-bit layers, checkpointing, attention kernel) and\n" +
		"`whisperc-metrics {...}` at the end (the allocator's peaks); `whisperc run` records both.\n")
	return b.String()
}

func (l *lowerer) srcName() string {
	if l.opts.Source != "" {
		return l.opts.Source
	}
	return l.prog.Root
}

func methodWords(m compiler.Method) string {
	switch m {
	case compiler.MethodFull:
		return "full fine-tuning"
	case compiler.MethodQLoRA:
		return "QLoRA"
	}
	return "LoRA"
}

func targetWords(lo *compiler.LoRA) string {
	var names []string
	for _, t := range lo.Targets {
		names = append(names, t.String())
	}
	return strings.Join(names, ", ")
}

func attentionWhy(st *plannerStage) string {
	if st == nil {
		return "attention kernel"
	}
	if d := st.Decision("attention"); d != nil {
		s := "attention = " + d.Choice
		if d.Requested != "" {
			s += " (" + d.Requested + " resolved)"
		}
		return s
	}
	return "attention kernel"
}

func modelExpr(m *compiler.Model, ref string) string {
	if m.Source.Scheme == compiler.SchemeHF {
		return pyStr(ref)
	}
	return "str(HERE / " + pyStr(ref) + ")"
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	sortStrings(out)
	return out
}

// supportModule is whisperc_support.py, which the hf and torchtune exports
// ship: the data checks and the non-finite-step guard of whisperc run.
//
//go:embed support.py
var supportModule string

// truncateValue is the dataset.truncate row of the table for d.
func truncateValue(d *compiler.Dataset) string {
	v := boolWord(d.Truncate)
	if d.Packing {
		v += ", packing"
	}
	return v
}

// badRecordValue is d's on_bad_record.
func badRecordValue(d *compiler.Dataset) string {
	if d.SkipBadRecords {
		return "skip"
	}
	return "error"
}

// nanRollbacksValue is the nan_rollbacks row of the table for f.
func nanRollbacksValue(f *compiler.Finetune) string {
	if f.NaN.Rollbacks == 0 {
		return "0"
	}
	return "1 or more"
}
