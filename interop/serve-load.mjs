// Drives a running whisperc server with the official OpenAI client, as a
// user's program would, and prints one JSON line per concurrency level:
// completion tokens per second of wall time over every request of that
// level (prefill, sampling, HTTP and the client included). The serving
// plan-vs-measured table (planner/testdata/measured/measure_serve.sh)
// compares these with `whisperc plan`'s predicted serving rates.
//
//   WHISPERC_URL=http://127.0.0.1:8080 WHISPERC_MODEL=m \
//   CONCURRENCY=1,2,4,8 GEN=64 node interop/serve-load.mjs
//
// Each level starts N clients together; each sends ROUNDS (default 3)
// completions of GEN tokens one after another, so that N sequences decode
// together for most of the level's wall time.
//
// With FILL=C (the server's context, in positions) and SLOTS=B (its
// max_batch), it then fills every slot's context: B clients together, each
// a prompt of about C-16 tokens (its length found by asking the server,
// whose usage counts the prompt's tokens) and 8 more generated, so that
// the server reaches the memory a plan predicts for full contexts; it
// prints one more line, {"fill": ...} with the positions each reached.
import OpenAI from "openai";

const base = process.env.WHISPERC_URL;
const model = process.env.WHISPERC_MODEL;
if (!base || !model) {
  throw new Error("set WHISPERC_URL and WHISPERC_MODEL");
}
const levels = (process.env.CONCURRENCY || "1,4,8,16").split(",").map((s) => {
  const n = Number(s.trim());
  if (!Number.isInteger(n) || n < 1) throw new Error(`bad concurrency ${JSON.stringify(s)}`);
  return n;
});
const gen = Number(process.env.GEN || 64);
const rounds = Number(process.env.ROUNDS || 3);
if (!Number.isInteger(gen) || gen < 1 || !Number.isInteger(rounds) || rounds < 1) {
  throw new Error("GEN and ROUNDS must be positive integers");
}
const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: "unused", maxRetries: 0, timeout: 300000 });

async function ready() {
  const deadline = Date.now() + 120000;
  for (;;) {
    try {
      if ((await fetch(`${base}/ready`)).ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${base} did not become ready in 120 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// level runs n clients of `each` requests and returns the completion
// tokens and the wall seconds.
async function level(n, each, maxTokens, tag) {
  let tokens = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: n }, async (_, c) => {
      for (let i = 0; i < each; i++) {
        const r = await openai.completions.create({
          model,
          prompt: `Once upon a time ${tag} ${c} ${i}`,
          max_tokens: maxTokens,
          temperature: 1,
          seed: 1000 * c + i,
        });
        tokens += r.usage.completion_tokens;
      }
    }),
  );
  return { tokens, wall: (performance.now() - t0) / 1000 };
}

await ready();
// The first requests build the engine's graphs and fill the pools.
await level(Math.max(...levels), 1, 8, "warm");
for (const n of levels) {
  const { tokens, wall } = await level(n, rounds, gen, "load");
  console.log(JSON.stringify({ concurrency: n, requests: n * rounds, tokens, wall_s: wall, tokens_per_s: tokens / wall }));
}

const fill = Number(process.env.FILL || 0);
if (fill > 0) {
  const slots = Number(process.env.SLOTS || 1);
  const phrase = "Once upon a time there was a little dog. ";
  const promptTokens = async (k) =>
    (await openai.completions.create({ model, prompt: phrase.repeat(k), max_tokens: 1, temperature: 0 })).usage.prompt_tokens;
  const one = await promptTokens(1);
  const per = (await promptTokens(3)) - one;
  if (!(per > 0)) throw new Error(`the prompt's token count does not grow with its length (${one}, +${per})`);
  const k = Math.max(1, 1 + Math.floor((fill - 16 - one) / (per / 2)));
  const reached = await Promise.all(
    Array.from({ length: slots }, async (_, c) => {
      const r = await openai.completions.create({ model, prompt: `${c} ` + phrase.repeat(k), max_tokens: 8, temperature: 1, seed: c });
      return r.usage.prompt_tokens + r.usage.completion_tokens;
    }),
  );
  console.log(JSON.stringify({ fill: fill, slots, positions: reached }));
}
