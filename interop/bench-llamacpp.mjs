// Measures llama.cpp (through node-llama-cpp, CPU only) on one GGUF model the
// way runtime/bench measures whisperc: a prompt of PROMPT pseudo-random
// tokens evaluated as one batch (prefill), then GEN tokens decoded greedily
// one at a time. Prints one JSON line per model and thread count. Used by
// runtime/bench/bench.sh and issue8.sh.
//
//   node bench-llamacpp.mjs MODEL.gguf[,MODEL2.gguf...] THREADS[,THREADS2...] PROMPT GEN
//
// With several models or thread counts it measures every pair in one
// process (loading the library once) and prints one line each; the line
// carries the greedy ids as "ids".
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelArg, threadsArg, promptArg, genArg] = process.argv.slice(2);
if (!modelArg) {
	console.error("usage: node bench-llamacpp.mjs MODEL.gguf[,...] THREADS[,...] PROMPT GEN");
	process.exit(2);
}
const models = modelArg.split(","), threadList = String(threadsArg ?? 1).split(",").map(Number);
const promptN = Number(promptArg ?? 128), genN = Number(genArg ?? 128);

const llama = await getLlama({gpu: false, logLevel: LlamaLogLevel.error});
for (const model of models) {
	for (const threads of threadList) {
		await measure(model, threads);
	}
}
await llama.dispose();

async function measure(model, threads) {
	const cpu0 = process.cpuUsage();
	const t0 = performance.now();
	const m = await llama.loadModel({modelPath: model});
	const ctx = await m.createContext({contextSize: promptN + genN + 8, batchSize: promptN, threads: {ideal: threads, min: threads}});
	const seq = ctx.getSequence();
	const load = (performance.now() - t0) / 1000;

	// The same prompt runtime/bench feeds: BOS, then ids 259 + i·7919 mod (vocab-259).
	const vocab = m.tokens.count ?? 32000;
	const prompt = [1];
	for (let i = 1; i < promptN; i++) prompt.push(259 + (i * 7919) % (vocab - 259));

	const cpu1 = process.cpuUsage();
	const t1 = performance.now();
	await seq.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1));
	const prefill = (performance.now() - t1) / 1000;
	const cpu2 = process.cpuUsage(cpu1);

	// Decode: the last prompt token, then each generated one, one position at a time.
	const t2 = performance.now();
	let n = 0;
	const ids = [];
	for await (const id of seq.evaluate([prompt[prompt.length - 1]], {temperature: 0})) {
		ids.push(id);
		if (++n >= genN) break;
	}
	if (process.env.BENCH_IDS) console.error(ids.join(" "));
	const decode = (performance.now() - t2) / 1000;
	const cpu3 = process.cpuUsage(cpu1);

	console.log(JSON.stringify({
		model: model.split("/").pop(), threads, load_s: load,
		prefill_tokens: promptN - 1, prefill_tok_s: (promptN - 1) / prefill,
		prefill_cpu_s: (cpu2.user + cpu2.system) / 1e6,
		decode_tokens: n, decode_tok_s: n / decode,
		decode_cpu_s: (cpu3.user + cpu3.system - cpu2.user - cpu2.system) / 1e6,
		total_cpu_s: (() => { const c = process.cpuUsage(cpu0); return (c.user + c.system) / 1e6; })(),
		ids,
	}));
	await ctx.dispose();
	await m.dispose();
}
