// End-to-end test of the whisperc language server from Node, the way the
// extension talks to it: spawn `whisperc lsp`, speak JSON-RPC over stdio
// with vscode-jsonrpc, and check the answers.
//
// Usage: node test/e2e.js /path/to/whisperc
"use strict";

const assert = require("node:assert/strict");
const cp = require("node:child_process");
const fs = require("node:fs");
const os = require("node:os");
const path = require("node:path");
const rpc = require("vscode-jsonrpc/node");

const bin = process.argv[2] || process.env.WHISPERC;
if (!bin) {
  console.error("usage: node test/e2e.js /path/to/whisperc");
  process.exit(2);
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "whisper-e2e-"));
  const file = path.join(dir, "main.whisper");
  // Non-ASCII text before the positions we ask about exercises the
  // utf-16 position mapping (VS Code's encoding).
  const text = [
    "// Fine-tune 日本 😀",
    "model base {",
    '  source = "hf:meta-llama/Llama-2-7b-hf"',
    "  quantize { method = nf4, double = true, compute = bf16 }",
    "}",
    "",
  ].join("\n");
  fs.writeFileSync(file, text);
  const uri = "file://" + file;

  const child = cp.spawn(bin, ["lsp"], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));

  const conn = rpc.createMessageConnection(
    new rpc.StreamMessageReader(child.stdout),
    new rpc.StreamMessageWriter(child.stdin),
  );
  const published = [];
  let notify = () => {};
  conn.onNotification("textDocument/publishDiagnostics", (p) => {
    published.push(p);
    notify();
  });
  conn.listen();

  const init = await withTimeout(
    conn.sendRequest("initialize", {
      processId: process.pid,
      rootUri: "file://" + dir,
      capabilities: { general: { positionEncodings: ["utf-16"] } },
      initializationOptions: { target: "" },
    }),
    10000,
    "initialize",
  );
  const caps = init.capabilities;
  assert.equal(caps.positionEncoding, "utf-16");
  for (const p of ["hoverProvider", "completionProvider", "definitionProvider", "referencesProvider", "renameProvider", "documentSymbolProvider", "documentFormattingProvider", "semanticTokensProvider", "codeActionProvider", "inlayHintProvider"]) {
    assert.ok(caps[p], `capability ${p} missing`);
  }
  await conn.sendNotification("initialized", {});

  const gotDiagnostics = new Promise((resolve) => {
    notify = () => {
      if (published.some((p) => p.uri === uri && p.version === 1)) resolve();
    };
  });
  await conn.sendNotification("textDocument/didOpen", {
    textDocument: { uri, languageId: "whisper", version: 1, text },
  });
  await withTimeout(gotDiagnostics, 10000, "diagnostics after didOpen");

  // Hover on "nf4" (line 3): the enum value's documentation.
  const line3 = text.split("\n")[3];
  const hover = await conn.sendRequest("textDocument/hover", {
    textDocument: { uri },
    position: { line: 3, character: line3.indexOf("nf4") + 1 },
  });
  assert.ok(hover && hover.contents, "no hover on nf4");
  assert.match(JSON.stringify(hover.contents), /nf4/);

  // Hover on "model" after the non-ASCII comment line.
  const hoverKind = await conn.sendRequest("textDocument/hover", {
    textDocument: { uri },
    position: { line: 1, character: 2 },
  });
  assert.match(JSON.stringify(hoverKind.contents), /model/);

  // Completion of top-level block kinds on an empty last line.
  const completion = await conn.sendRequest("textDocument/completion", {
    textDocument: { uri },
    position: { line: 5, character: 0 },
  });
  const items = Array.isArray(completion) ? completion : completion.items;
  const labels = items.map((i) => i.label);
  for (const k of ["model", "dataset", "finetune", "generate", "track"]) {
    assert.ok(labels.includes(k), `completion lacks ${k}: ${labels}`);
  }

  // A document with an error after non-ASCII text on the same line: the
  // diagnostic's utf-16 range, its code, and the quick fix.
  const bad = path.join(dir, "bad.whisper");
  const badText = 'model base {\n  source = "hf:meta-llama/Llama-2-7b-hf"\n  quantize { /* é日😀 */ method = nf5 }\n}\n';
  const badUri = "file://" + bad;
  const gotBad = new Promise((resolve) => {
    notify = () => {
      const p = published.find((p) => p.uri === badUri && p.version === 1);
      if (p) resolve(p);
    };
  });
  await conn.sendNotification("textDocument/didOpen", {
    textDocument: { uri: badUri, languageId: "whisper", version: 1, text: badText },
  });
  const badDiags = (await withTimeout(gotBad, 10000, "diagnostics of bad.whisper")).diagnostics;
  const e303 = badDiags.find((d) => d.code === "E303");
  assert.ok(e303, `no E303 in ${JSON.stringify(badDiags)}`);
  // "  quantize { /* é日😀 */ method = " is 33 UTF-16 code units (😀 is two).
  const line2 = badText.split("\n")[2];
  assert.deepEqual(e303.range, {
    start: { line: 2, character: line2.indexOf("nf5") },
    end: { line: 2, character: line2.indexOf("nf5") + 3 },
  });
  const actions = await conn.sendRequest("textDocument/codeAction", {
    textDocument: { uri: badUri },
    range: e303.range,
    context: { diagnostics: [e303] },
  });
  assert.equal(actions.length, 1);
  assert.equal(actions[0].edit.changes[badUri][0].newText, "nf4");

  // Formatting returns the edit that whisperc fmt would make.
  const edits = await conn.sendRequest("textDocument/formatting", {
    textDocument: { uri: badUri },
    options: { tabSize: 2, insertSpaces: true },
  });
  assert.ok(Array.isArray(edits), "formatting did not answer a list of edits");

  const tokens = await conn.sendRequest("textDocument/semanticTokens/full", { textDocument: { uri } });
  assert.ok(tokens.data.length > 0 && tokens.data.length % 5 === 0, "semantic tokens malformed");

  const symbols = await conn.sendRequest("textDocument/documentSymbol", { textDocument: { uri } });
  assert.ok(symbols.some((s) => s.name.includes("base")), "outline lacks model base");

  await conn.sendRequest("shutdown");
  await conn.sendNotification("exit");
  const code = await withTimeout(exited, 10000, "the server to exit");
  assert.equal(code, 0, `server exited with ${code}; stderr:\n${stderr}`);
  conn.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
  console.log("e2e: ok (initialize, diagnostics with utf-16 ranges, quick fix, formatting, hover, completion, semantic tokens, symbols, shutdown)");
}

main().catch((err) => {
  console.error("e2e: FAIL:", err && err.stack ? err.stack : err);
  process.exit(1);
});
