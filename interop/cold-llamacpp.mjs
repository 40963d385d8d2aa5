// The first prompt's cold start in llama.cpp (node-llama-cpp, CPU, one
// thread), split as `wbench cold` splits whisperc's: the context created for
// a batch of the prompt's size (llama.cpp allocates and clears its KV cache
// and reserves its compute buffer there; reported as "build"), the first
// prompt evaluated as one batch, and the same prompt again from position 0
// after its tokens are erased. Each phase gives its CPU seconds and minor
// page faults (first touches of fresh memory) as wbench cold does. Used by
// runtime/bench/prefill.sh.
//
//   node cold-llamacpp.mjs MODEL.gguf PROMPT GEN
import {readFileSync} from "node:fs";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [model, promptArg, genArg] = process.argv.slice(2);
if (!model) {
	console.error("usage: node cold-llamacpp.mjs MODEL.gguf PROMPT GEN");
	process.exit(2);
}
const promptN = Number(promptArg ?? 128), genN = Number(genArg ?? 32);

// minflt is field 10 of /proc/self/stat, counted after the command name.
const minflt = () => Number(readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ")[7]);
async function phase(f) {
	const f0 = minflt(), c0 = process.cpuUsage(), t0 = performance.now();
	await f();
	const c = process.cpuUsage(c0);
	return {wall_s: (performance.now() - t0) / 1000, cpu_s: (c.user + c.system) / 1e6, minflt: minflt() - f0, gcs: 0};
}

const llama = await getLlama({gpu: false, logLevel: LlamaLogLevel.error});
let m, ctx, seq;
const load = await phase(async () => { m = await llama.loadModel({modelPath: model}); });
const build = await phase(async () => {
	ctx = await m.createContext({contextSize: promptN + genN + 8, batchSize: promptN, threads: {ideal: 1, min: 1}});
	seq = ctx.getSequence();
});
// The same prompt as bench-llamacpp.mjs and wbench.
const vocab = m.tokens.count ?? 32000;
const prompt = [1];
for (let i = 1; i < promptN; i++) prompt.push(259 + (i * 7919) % (vocab - 259));
const first = await phase(() => seq.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1)));
await seq.eraseContextTokenRanges([{start: 0, end: seq.nextTokenIndex}]);
const second = await phase(() => seq.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1)));
console.log(JSON.stringify({model, prompt: promptN - 1, load, build, first, second}));
await ctx.dispose();
await m.dispose();
await llama.dispose();
