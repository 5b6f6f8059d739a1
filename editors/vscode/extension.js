// Starts `deployc lsp` for .deploy files through vscode-languageclient: diagnostics as you
// type, hover, go to definition, references, completion, outline, folding, semantic
// highlighting, quick fixes and formatting. `deploy.server.path` names the binary (default:
// `deployc` on PATH); changing a `deploy.server.*` setting restarts the server.
"use strict";

const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function serverOptions() {
  const config = vscode.workspace.getConfiguration("deploy.server");
  const command = config.get("path") || "deployc";
  const args = ["lsp", ...(config.get("extraArgs") || [])];
  // `transport: stdio` makes the client add `--stdio`, which `deployc lsp` accepts.
  return {
    run: { command, args, transport: TransportKind.stdio },
    debug: { command, args, transport: TransportKind.stdio },
  };
}

async function start(context) {
  if (!vscode.workspace.getConfiguration("deploy.server").get("enable", true)) {
    return;
  }
  client = new LanguageClient(
    "deployc",
    "deployc language server",
    serverOptions(),
    {
      documentSelector: [
        { scheme: "file", language: "deploy" },
        { scheme: "untitled", language: "deploy" },
      ],
      initializationOptions: {
        debounceMs: vscode.workspace.getConfiguration("deploy.server").get("debounceMs", 0),
      },
    },
  );
  try {
    await client.start();
  } catch (err) {
    const path = vscode.workspace.getConfiguration("deploy.server").get("path") || "deployc";
    vscode.window.showErrorMessage(
      `Cannot start the deployc language server (\`${path} lsp\`): ${err.message}. ` +
        "Set `deploy.server.path` to the deployc binary.",
    );
    client = undefined;
  }
}

async function stop() {
  if (client) {
    const running = client;
    client = undefined;
    await running.stop();
  }
}

async function activate(context) {
  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("deploy.server")) {
        await stop();
        await start(context);
      }
    }),
    vscode.commands.registerCommand("deploy.restartServer", async () => {
      await stop();
      await start(context);
    }),
  );
  await start(context);
}

function deactivate() {
  return stop();
}

module.exports = { activate, deactivate };
