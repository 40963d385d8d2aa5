// Renders chat templates' Jinja sources with @huggingface/jinja (the
// Jinja implementation node-llama-cpp and transformers.js use) for
// whisperc's template test. Reads {"templates": {name: jinja},
// "conversations": [[{role, content}]]} on stdin and prints
// {name: [rendered, ...]} with add_generation_prompt set.
import { Template } from "@huggingface/jinja";

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { templates, conversations } = JSON.parse(input);
const out = {};
for (const [name, source] of Object.entries(templates)) {
  const t = new Template(source);
  out[name] = conversations.map((messages) =>
    t.render({ messages, add_generation_prompt: true, bos_token: "<s>", eos_token: "</s>" }));
}
process.stdout.write(JSON.stringify(out));
