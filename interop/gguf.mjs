// Loads a GGUF file (and optionally a LoRA adapter) with llama.cpp through
// node-llama-cpp on the CPU and prints, as JSON: the greedy continuation of
// the given prompt token ids, how llama.cpp tokenizes the given text, and
// the chat template it read, and (given "nll": token ids) the mean negative
// log-likelihood of each of those tokens after the ones before it.
// runtime/export's tests compare these with whisperc's own results.
//
//   node gguf.mjs '{"model": "m.gguf", "adapter": null, "prompt": [1, 403], "n": 40, "text": "Once"}'
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const req = JSON.parse(process.argv[2]);
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const log = (m) => { if (process.env.GGUF_DEBUG) console.error(m); };
log("loading");
const model = await llama.loadModel({ modelPath: req.model });
// One thread: results do not depend on the machine, and llama.cpp's spinning
// thread pool stalls on a loaded 2-core machine.
const opts = { contextSize: req.ctx ?? 512, sequences: 1, threads: 1 };
if (req.adapter) opts.lora = { adapters: [{ filePath: req.adapter }] };
log("context");
const context = await model.createContext(opts);
log("evaluate");
const seq = context.getSequence();
const ids = [];
if (req.n > 0) {
  for await (const tok of seq.evaluate(req.prompt, { temperature: 0 })) {
    ids.push(tok);
    if (ids.length >= req.n) break;
  }
}
let nll = null;
if (req.nll) {
  // Teacher-forced: each token of req.nll after the first is scored by the
  // distribution llama.cpp gives after the tokens before it.
  await seq.clearHistory();
  const items = req.nll.map((t, i) => (i < req.nll.length - 1 ? [t, { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } }] : t));
  const res = await seq.controlledEvaluate(items);
  let sum = 0;
  for (let i = 0; i < req.nll.length - 1; i++) {
    const p = res[i]?.next?.probabilities?.get(req.nll[i + 1]) ?? 0;
    sum -= Math.log(Math.max(p, 1e-30));
  }
  nll = sum / (req.nll.length - 1);
}
log("done");
const out = {
  ids,
  tokenize: req.text !== undefined ? model.tokenize(req.text) : null,
  template: model.fileInfo.metadata?.tokenizer?.chat_template ?? null,
  type: model.fileInfo.metadata?.general?.type ?? null,
  nll,
};
console.log(JSON.stringify(out));
await context.dispose();
await model.dispose();
await llama.dispose();
