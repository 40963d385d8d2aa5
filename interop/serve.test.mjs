// The official OpenAI and Ollama clients against whisperc's server.
// runtime/serve's TestNodeClients starts the server (stories260K, greedy
// decoding available) and runs this file with WHISPERC_URL and
// WHISPERC_MODEL set; run it by hand the same way against any server.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { Ollama } from "ollama";

const base = process.env.WHISPERC_URL;
const model = process.env.WHISPERC_MODEL;
if (!base || !model) {
  throw new Error("set WHISPERC_URL and WHISPERC_MODEL");
}
const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: "unused", maxRetries: 0 });
const ollama = new Ollama({ host: base });
const greedy = { temperature: 0 };

async function metric(name) {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(name + " "));
  return line === undefined ? NaN : Number(line.split(" ")[1]);
}

async function until(cond, what) {
  const deadline = Date.now() + 20000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("openai: models.list names the served model", async () => {
  const ids = [];
  for await (const m of openai.models.list()) ids.push(m.id);
  assert.deepEqual(ids, [model]);
  const one = await openai.models.retrieve(model);
  assert.equal(one.id, model);
});

test("openai: a completion, streamed and not, gives the same text and usage", async () => {
  const r = await openai.completions.create({ model, prompt: "Once upon a time", max_tokens: 24, ...greedy });
  assert.equal(r.object, "text_completion");
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].finish_reason, "length");
  assert.equal(r.usage.completion_tokens, 24);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + 24);
  assert.ok(r.choices[0].text.length > 0);

  const stream = await openai.completions.create({
    model, prompt: "Once upon a time", max_tokens: 24, ...greedy, stream: true, stream_options: { include_usage: true },
  });
  let text = "";
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    for (const c of chunk.choices) {
      text += c.text;
      if (c.finish_reason) finish = c.finish_reason;
    }
    if (chunk.usage) usage = chunk.usage;
  }
  assert.ok(chunks > 2, `only ${chunks} chunks: the text was not streamed`);
  assert.equal(text, r.choices[0].text);
  assert.equal(finish, "length");
  // The cached prompt tokens depend on what the first request left in the
  // prefix cache; the counts must agree.
  assert.ok(usage.prompt_tokens_details.cached_tokens >= r.usage.prompt_tokens_details.cached_tokens);
  delete usage.prompt_tokens_details;
  delete r.usage.prompt_tokens_details;
  assert.deepEqual(usage, r.usage);
});

test("openai: chat, streamed and not, agree", async () => {
  const messages = [{ role: "user", content: "The cat" }];
  const r = await openai.chat.completions.create({ model, messages, max_tokens: 20, ...greedy });
  assert.equal(r.object, "chat.completion");
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(r.usage.completion_tokens, 20);
  const stream = await openai.chat.completions.create({ model, messages, max_tokens: 20, ...greedy, stream: true });
  let text = "";
  let role = null;
  for await (const chunk of stream) {
    assert.equal(chunk.object, "chat.completion.chunk");
    const d = chunk.choices[0].delta;
    if (d.role) role = d.role;
    text += d.content ?? "";
  }
  assert.equal(role, "assistant");
  assert.equal(text, r.choices[0].message.content);
});

test("openai: a stop sequence ends the text before it", async () => {
  const full = await openai.completions.create({ model, prompt: "", max_tokens: 40, ...greedy });
  const at = full.choices[0].text.indexOf(" girl");
  assert.ok(at > 0, "premise: the story mentions a girl");
  const r = await openai.completions.create({ model, prompt: "", max_tokens: 40, ...greedy, stop: [" girl"] });
  assert.equal(r.choices[0].text, full.choices[0].text.slice(0, at));
  assert.equal(r.choices[0].finish_reason, "stop");
});

test("openai: a seed makes sampling reproducible", async () => {
  const a = await openai.completions.create({ model, prompt: "Tom", max_tokens: 20, temperature: 1, top_p: 0.9, seed: 7 });
  const b = await openai.completions.create({ model, prompt: "Tom", max_tokens: 20, temperature: 1, top_p: 0.9, seed: 7 });
  assert.equal(a.choices[0].text, b.choices[0].text);
});

test("openai: errors come back as the client's typed errors", async () => {
  await assert.rejects(openai.completions.create({ model: "no-such-model", prompt: "x" }), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError, `got ${e}`);
    assert.equal(e.status, 404);
    assert.equal(e.code, "model_not_found");
    return true;
  });
  await assert.rejects(openai.completions.create({ model, prompt: "x", temperature: 5 }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, `got ${e}`);
    assert.equal(e.param, "temperature");
    return true;
  });
  await assert.rejects(openai.chat.completions.create({ model, messages: [] }), (e) => e instanceof OpenAI.BadRequestError);
});

const cancelled = 'whisperc_serve_finished_total{reason="cancelled"}';

async function cancelledCount() {
  const v = await metric(cancelled);
  return Number.isNaN(v) ? 0 : v;
}

// abortUntilCancelled runs attempt, which starts a long stream and aborts
// it after its first chunk, until the server reports a cancelled
// generation: on a fast machine a whole generation may already be written
// to the socket when the abort lands, so a few tries may be needed.
async function abortUntilCancelled(attempt) {
  for (let i = 0; i < 5; i++) {
    const before = await cancelledCount();
    await attempt();
    await until(async () => (await metric("whisperc_serve_active_sequences")) === 0, "the slot to be freed");
    if ((await cancelledCount()) > before) return;
  }
  assert.fail("five aborted streams all finished before the server noticed the abort");
}

test("openai: aborting a stream frees its slot", async () => {
  await abortUntilCancelled(async () => {
    const controller = new AbortController();
    const stream = await openai.completions.create(
      { model, prompt: "", max_tokens: 500, ...greedy, stream: true }, { signal: controller.signal });
    try {
      for await (const _ of stream) controller.abort();
    } catch (e) {
      assert.ok(e.name === "AbortError" || e instanceof OpenAI.APIUserAbortError, `got ${e}`);
    }
  });
  const r = await openai.completions.create({ model, prompt: "x", max_tokens: 3, ...greedy });
  assert.equal(r.usage.completion_tokens, 3);
});

test("ollama: generate, streamed and not, agrees with the completion", async () => {
  const ref = await openai.completions.create({ model, prompt: "The dog", max_tokens: 20, ...greedy });
  const r = await ollama.generate({ model, prompt: "The dog", stream: false, options: { num_predict: 20, ...greedy } });
  assert.equal(r.response, ref.choices[0].text);
  assert.equal(r.done, true);
  assert.equal(r.done_reason, "length");
  assert.equal(r.eval_count, 20);
  assert.equal(r.prompt_eval_count, ref.usage.prompt_tokens);
  let text = "";
  let last = null;
  for await (const part of await ollama.generate({ model, prompt: "The dog", stream: true, options: { num_predict: 20, ...greedy } })) {
    text += part.response;
    last = part;
  }
  assert.equal(text, r.response);
  assert.equal(last.done, true);
});

test("ollama: chat, streamed and not, agree", async () => {
  const messages = [{ role: "user", content: "Lily" }];
  const r = await ollama.chat({ model: `${model}:latest`, messages, stream: false, options: { num_predict: 15, ...greedy } });
  assert.equal(r.message.role, "assistant");
  let text = "";
  for await (const part of await ollama.chat({ model, messages, stream: true, options: { num_predict: 15, ...greedy } })) {
    text += part.message.content;
  }
  assert.equal(text, r.message.content);
});

test("ollama: list, show and ps describe the model", async () => {
  const list = await ollama.list();
  assert.equal(list.models.length, 1);
  assert.equal(list.models[0].name, `${model}:latest`);
  assert.equal(list.models[0].details.family, "llama");
  const show = await ollama.show({ model });
  assert.equal(show.details.format, "gguf");
  assert.ok(show.model_info["llama.block_count"] > 0);
  const ps = await ollama.ps();
  assert.ok(ps.models[0].size > 0);
});

test("ollama: errors come back as ResponseError", async () => {
  await assert.rejects(ollama.generate({ model: "nope", prompt: "x", stream: false }), (e) => {
    assert.equal(e.name, "ResponseError");
    assert.equal(e.status_code, 404);
    assert.match(e.error, /does not exist/);
    return true;
  });
  await assert.rejects(ollama.chat({ model, messages: [{ role: "wizard", content: "x" }], stream: false }), (e) => e.status_code === 400);
});

test("ollama: aborting a stream frees its slot", async () => {
  await abortUntilCancelled(async () => {
    const stream = await ollama.generate({ model, prompt: "Once", stream: true, options: { num_predict: 500, ...greedy } });
    try {
      for await (const _ of stream) stream.abort();
    } catch (e) {
      assert.equal(e.name, "AbortError");
    }
  });
});
