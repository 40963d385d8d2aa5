package stdlib

// checkCodes documents the codes of the check phase: E2xx for names,
// references, imports and variables, E3xx for types, values and units.
var checkCodes = []Code{
	{ID: "E200", Phase: "check", Title: "internal checker error",
		Explain: "The checker failed on this input. This is a bug in whisperc, not in your file: the checker " +
			"recovered and reported what it had found so far.\n\n" +
			"Please report it with the file that triggers it. Meanwhile, simplify the construct at the " +
			"reported position to work around it."},
	{ID: "E201", Phase: "check", Title: "unknown block kind",
		Explain: "Every top-level block starts with a kind the language defines: pipeline, variable, model, " +
			"dataset, finetune, generate, serve, track, version, export or target (and the `import` " +
			"statement).\n\nFix the spelling (the message suggests the closest kind) or remove the block.",
		Example: "modle base { source = \"hf:meta-llama/Llama-2-7b-hf\" }"},
	{ID: "E202", Phase: "check", Title: "duplicate declaration",
		Explain: "Declaration names share one namespace across every block kind and every file of the import " +
			"closure, so that a bare name such as `base` means exactly one thing. The note points at the " +
			"first declaration.\n\nRename one of the two declarations and update its references.",
		Example: "model base { source = \"a\" }\ndataset base { source = \"b.jsonl\" }"},
	{ID: "E203", Phase: "check", Title: "unknown attribute",
		Explain: "The block kind does not define this attribute. `whisperc explain` and spec/blocks.md list every " +
			"attribute of every kind.\n\nFix the spelling (the message suggests the closest attribute) or remove it.",
		Example: "finetune sft {\n  model = base\n  data = chat\n  lora { rnak = 16 }\n}"},
	{ID: "E204", Phase: "check", Title: "unknown nested block",
		Explain: "The block kind does not allow a nested block of this kind here; for example `lora` belongs in " +
			"`finetune` and `quantize` in `model`.\n\nMove the block to the kind that accepts it, fix its spelling, " +
			"or write it as an attribute if it is one.",
		Example: "model base {\n  source = \"hf:x/y\"\n  lora { rank = 16 }\n}"},
	{ID: "E205", Phase: "check", Title: "undefined reference",
		Explain: "A bare identifier in a reference position must name a declaration of the right kind somewhere in " +
			"the program (the file and everything it imports).\n\nFix the spelling (the message suggests the closest " +
			"declaration of an accepted kind), declare it, or import the file that declares it.",
		Example: "finetune sft { model = bsae, data = chat }"},
	{ID: "E206", Phase: "check", Title: "reference to the wrong kind",
		Explain: "The attribute accepts references to some block kinds only: `finetune.model` must name a model, " +
			"`finetune.data` a dataset, `generate.model` a model or a finetune.\n\nPoint the attribute at a " +
			"declaration of an accepted kind.",
		Example: "dataset chat { source = \"chat.jsonl\" }\nfinetune sft { model = chat, data = chat }"},
	{ID: "E207", Phase: "check", Title: "dependency cycle",
		Explain: "Stages run in dependency order, so the references between declarations must not form a cycle. " +
			"The message names both ends of the edge that closes the cycle and the notes trace it.\n\n" +
			"The references the current block kinds allow always point from later stages to earlier ones, so " +
			"this is a safeguard for kinds to come.\n\nBreak the cycle by pointing one of the references at an earlier stage."},
	{ID: "E208", Phase: "check", Title: "import not found",
		Explain: "The imported file could not be read. Import paths are relative to the importing file, not to the " +
			"working directory.\n\nFix the path, or create the file.",
		Example: "import \"commn.whisper\""},
	{ID: "E209", Phase: "check", Title: "import cycle",
		Explain: "A file imports itself, directly or through other files. Each import of the cycle carries a note.\n\n" +
			"Move the shared declarations into a file that both import, and remove one of the imports of the cycle.",
		Example: "// a.whisper\nimport \"b.whisper\"\n// b.whisper\nimport \"a.whisper\""},
	{ID: "E210", Phase: "check", Title: "duplicate attribute",
		Explain: "An attribute may be set once per block; the note points at the first setting.\n\n" +
			"Remove one of the two settings.",
		Example: "dataset chat {\n  source = \"a.jsonl\"\n  source = \"b.jsonl\"\n}"},
	{ID: "E211", Phase: "check", Title: "undefined variable",
		Explain: "`var.NAME` refers to a `variable NAME { ... }` declaration, which does not exist.\n\n" +
			"Declare the variable, or fix the name (the message suggests the closest declared variable).",
		Example: "variable lr { default = 2e-4 }\nfinetune sft {\n  model = base\n  data = chat\n  optimizer { lr = var.rl }\n}"},
	{ID: "E212", Phase: "check", Title: "unknown -var name",
		Explain: "`-var NAME=VALUE` sets a declared variable; no variable of that name is declared.\n\n" +
			"Fix the name on the command line (the message suggests the closest variable) or declare the variable."},
	{ID: "E213", Phase: "check", Title: "singleton block repeated",
		Explain: "Some kinds describe the whole pipeline and may appear only once: pipeline, track, version and " +
			"target. The note points at the first.\n\nMerge the two blocks into one.",
		Example: "track { backend = tensorboard }\ntrack { backend = mlflow }"},
	{ID: "E214", Phase: "check", Title: "block name missing or not allowed",
		Explain: "Declarations (model, dataset, finetune, ...) need a name so that other blocks can refer to them; " +
			"settings blocks (quantize, lora, optimizer, distributed, import) never take one.\n\n" +
			"Add a name after the kind, or remove it.",
		Example: "model { source = \"hf:x/y\" }"},
	{ID: "E215", Phase: "check", Title: "nested block repeated",
		Explain: "A settings block such as `lora` or `quantize` may appear once in its parent; the note points at " +
			"the first.\n\nMerge the two blocks into one.",
		Example: "model base {\n  source = \"hf:x/y\"\n  quantize { method = nf4 }\n  quantize { double = true }\n}"},
	{ID: "E216", Phase: "check", Title: "variable has no value",
		Explain: "A variable without a default must be set with `-var NAME=VALUE`, and one without a default " +
			"must also declare its `type` so that the value can be parsed.\n\n" +
			"Pass `-var NAME=VALUE`, or give the variable a default.",
		Example: "variable lr { type = number }"},
	{ID: "E217", Phase: "check", Title: "reference to a missing attribute",
		Explain: "A dotted reference `NAME.ATTR` may name only the outputs a declaration exposes: a finetune's " +
			"`output`.\n\nRefer to the declaration itself, or to `NAME.output` of a finetune.",
		Example: "model base { source = \"hf:org/name\" }\ngenerate g { model = base.weights, prompt = \"hi\" }"},

	{ID: "E218", Phase: "check", Title: "import not allowed",
		Explain: "An import may name only a `.whisper` file inside the directory of the file being checked, or " +
			"below it; symbolic links are followed before the check. whisperc refuses other paths without " +
			"reading them, so an import can never show the content of an unrelated file (a credentials file, " +
			"/etc/passwd) in a diagnostic.\n\nMove the imported file into the project, or allow one more directory " +
			"tree with `--import-dir DIR`.",
		Example: "import \"../../secrets.env\""},
	{ID: "E219", Phase: "check", Title: "malformed checkpoint address",
		Explain: "A quoted model reference with an @ addresses a recorded output of a finetune: " +
			"`\"sft@step500\"` is the checkpoint at step 500 of the latest succeeded run that wrote it, " +
			"`\"sft@RUNID\"` that run's final output and `\"sft@RUNID/step500\"` its checkpoint at step 500 " +
			"(run ids as `whisperc runs` shows them; a unique prefix will do). Only finetunes have such " +
			"outputs, a step is `step` followed by a number from 1, and a run id looks like 261206-153811-a37f." +
			"\n\nFix the address, or refer to the model or finetune by name without quotes.",
		Example: "model base { source = \"hf:org/name\" }\ndataset d { source = \"d.jsonl\" }\n" +
			"finetune sft { model = base, data = d }\ngenerate g { model = \"sft@step5x\", prompt = \"hi\" }"},

	{ID: "E301", Phase: "check", Title: "missing required attribute",
		Explain: "The block kind needs this attribute and has no default for it; spec/blocks.md marks required " +
			"attributes.\n\nAdd the attribute.",
		Example: "finetune sft { model = base }"},
	{ID: "E302", Phase: "check", Title: "wrong type",
		Explain: "The value does not have the attribute's type: a string where a number is expected, a list where a " +
			"single value is expected, and so on. The message says what was expected and what was found.\n\n" +
			"Write a value of the expected type.",
		Example: "finetune sft {\n  model = base\n  data = chat\n  batch = \"4\"\n}"},
	{ID: "E303", Phase: "check", Title: "unknown enum value",
		Explain: "The attribute accepts a fixed set of identifiers, listed in the message and in spec/blocks.md.\n\n" +
			"Use one of them (the message suggests the closest).",
		Example: "model base {\n  source = \"hf:x/y\"\n  quantize { method = nf5 }\n}"},
	{ID: "E304", Phase: "check", Title: "value out of range",
		Explain: "The number lies outside the attribute's allowed interval (a port above 65535, a dropout of 1, a " +
			"negative batch). The interval is in the message and in spec/blocks.md.\n\nUse a value inside it.",
		Example: "finetune sft {\n  model = base\n  data = chat\n  lora { dropout = 1.5 }\n}"},
	{ID: "E305", Phase: "check", Title: "wrong unit",
		Explain: "Quantities carry a unit whose class must match the attribute: a size (B, KB, MB, GB, TB, KiB, MiB, " +
			"GiB, TiB), a percentage (%), a duration (ms, s, m, h) or a count (steps, epochs, tokens). A plain number " +
			"where a quantity is expected is ambiguous and also reported.\n\nWrite the value with a unit of the " +
			"expected class, such as 24GiB or 500 steps.",
		Example: "target { require = [gpu_memory >= 24%] }"},
	{ID: "E306", Phase: "check", Title: "invalid -var value",
		Explain: "The value given with `-var NAME=VALUE` cannot be read as the variable's type (its declared `type`, " +
			"or the type of its default).\n\nPass a value of that type, such as `-var lr=1e-4` for a number or " +
			"`-var mem=24GiB` for a size."},
	{ID: "E307", Phase: "check", Title: "invalid requirement",
		Explain: "`target.require` holds comparisons of a hardware property with a value, such as " +
			"`gpu_memory >= 24GiB` or `bf16 == true`. The property must be one the planner knows, and the value must " +
			"have its type.\n\nFix the property's name (the message suggests the closest) or the value.",
		Example: "target { require = [gpu_mem >= 24GiB] }"},
	{ID: "E308", Phase: "check", Title: "conflicting settings",
		Explain: "Two settings contradict each other, such as a `lora` block with `method = full`, or " +
			"`double = true` with an 8-bit quantisation method.\n\nRemove one of them; the message says which " +
			"combination is valid.",
		Example: "finetune sft {\n  model = base\n  data = chat\n  method = full\n  lora { rank = 16 }\n}"},
	{ID: "E309", Phase: "check", Title: "invalid expression",
		Explain: "The expression cannot be evaluated to a constant: arithmetic on non-numbers, a division by zero, " +
			"a comparison outside `target.require`, a call other than a documented call form such as `every(n)`.\n\n" +
			"Write a literal value or a supported expression.",
		Example: "finetune sft {\n  model = base\n  data = chat\n  batch = 8 / 0\n}"},
	{ID: "E310", Phase: "check", Title: "invalid model source",
		Explain: "A model source is `hf:ORG/NAME`, `gguf:PATH`, `llama2c:PATH`, `safetensors:DIR`, " +
			"`ollama:NAME:TAG` or a preset name. The scheme is unknown, or its reference is empty or malformed.\n\n" +
			"Use one of those forms.",
		Example: "model base { source = \"hugginface:meta-llama/Llama-2-7b-hf\" }"},
	{ID: "E311", Phase: "check", Title: "dataset format unknown",
		Explain: "The dataset has no `format` and its source's extension does not say one (.jsonl, .json, .csv, " +
			".parquet, .txt), nor is it an `hf:` dataset.\n\nSet `format` explicitly.",
		Example: "dataset chat { source = \"data/chat.dat\" }"},
	{ID: "E312", Phase: "check", Title: "unknown target profile",
		Explain: "`target.profile` names a built-in hardware profile (`whisperc plan --targets` lists them, with " +
			"their aliases) or a profile file ending in .hcl, relative to the declaring file.\n\n" +
			"Fix the name (the message suggests the closest profile), or point at an HCL profile file.",
		Example: "target { profile = \"a100-80g\" }"},
}
