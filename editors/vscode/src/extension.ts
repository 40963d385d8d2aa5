// The Whisper extension starts `whisperc lsp` and connects VS Code to it.
// Everything language-specific (diagnostics, completion, hover, navigation,
// formatting, semantic highlighting, inlay hints) lives in the server; this
// file only finds the binary, passes the settings and restarts on request.
import * as vscode from "vscode";
import {
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

let client: LanguageClient | undefined;

// serverOptions builds the command line from the whisper.server.* settings.
function serverOptions(): ServerOptions {
  const cfg = vscode.workspace.getConfiguration("whisper");
  const command = cfg.get<string>("server.path") || "whisperc";
  const args = ["lsp", ...(cfg.get<string[]>("server.args") ?? [])];
  return {
    run: { command, args, transport: TransportKind.stdio },
    debug: { command, args, transport: TransportKind.stdio },
  };
}

// clientOptions selects .whisper documents and forwards the whisper.*
// settings, both at start (initializationOptions) and on change.
function clientOptions(): LanguageClientOptions {
  const cfg = vscode.workspace.getConfiguration("whisper");
  return {
    documentSelector: [
      { scheme: "file", language: "whisper" },
      { scheme: "untitled", language: "whisper" },
    ],
    initializationOptions: {
      target: cfg.get<string>("target") ?? "",
      importDirs: cfg.get<string[] | null>("importDirs") ?? null,
    },
    synchronize: { configurationSection: "whisper" },
    outputChannelName: "Whisper Language Server",
  };
}

async function start(context: vscode.ExtensionContext): Promise<void> {
  client = new LanguageClient("whisper", "Whisper Language Server", serverOptions(), clientOptions());
  try {
    await client.start();
  } catch (err) {
    const path = vscode.workspace.getConfiguration("whisper").get<string>("server.path");
    void vscode.window.showErrorMessage(
      `Could not start the whisperc language server (${path} lsp): ${err}. ` +
        "Install whisperc or set whisper.server.path to its location.",
    );
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  context.subscriptions.push(
    vscode.commands.registerCommand("whisper.restartServer", async () => {
      await client?.stop();
      await start(context);
    }),
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration("whisper.server")) {
        await client?.stop();
        await start(context);
      }
    }),
  );
  await start(context);
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
