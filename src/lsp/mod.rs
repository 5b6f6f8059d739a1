//! `deployc lsp`: the language server, over stdio.
//!
//! A thin layer over the compiler: every open document is analysed by the same pipeline as
//! `deployc check` (see [`analysis`]), and each feature reads that analysis. The server is
//! synchronous and single-threaded (`lsp-server`, rust-analyzer's transport): analysing a
//! 2,000-line file takes milliseconds, less than a thread hand-off would save.
//!
//! Edits are coalesced: a change makes its document's analysis due, and the analysis runs
//! once every message already received has been handled, so the keystrokes that arrive while
//! an analysis runs are applied together and cost one analysis, and the first keystroke after
//! a pause is analysed at once. A client may also ask for a delay after the last keystroke
//! (`initializationOptions.debounceMs`). A request about a document with an analysis due runs
//! that analysis first, so it
//! never answers from text older than what it was asked about; completion is the exception:
//! it reads its context from the current text and only the names from the last analysis.
//!
//! A document with a syntax error keeps its last good analysis for everything but the
//! diagnostics (which say what is wrong now).

mod actions;
mod analysis;
mod completion;
mod diagnostics;
mod formatting;
mod hover;
mod index;
mod navigation;
mod outline;
mod position;
mod semantic;
mod uri;

use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::Notification as _;
use lsp_types::request::Request as _;
use lsp_types::{
    ClientCapabilities, CodeActionProviderCapability, CompletionOptions,
    DidChangeWatchedFilesRegistrationOptions, FileSystemWatcher, FoldingRangeProviderCapability,
    GlobPattern, HoverProviderCapability, InitializeParams, OneOf, PositionEncodingKind,
    Registration, RegistrationParams, SemanticTokensFullOptions, SemanticTokensOptions,
    SemanticTokensServerCapabilities, ServerCapabilities, TextDocumentSyncCapability,
    TextDocumentSyncKind, TextDocumentSyncOptions, TextDocumentSyncSaveOptions, Url,
};
use lsp_types::{notification as notif, request as req};
use serde_json::Value;

use self::analysis::Analysis;
use self::index::Index;
use self::position::LineIndex;

/// How long after the last keystroke a document is analysed, unless the client sets
/// `initializationOptions.debounceMs`: none, beyond handling the messages already received
/// (see the module's documentation). A fixed delay would be added to every diagnostic the user
/// waits for, while coalescing already spares the analyses a burst of keystrokes would cost.
pub const DEFAULT_DEBOUNCE: Duration = Duration::ZERO;

/// Runs the server on stdin and stdout until the client shuts it down; `Err` says why it
/// stopped otherwise (the client went away, a malformed handshake).
pub fn run() -> Result<(), String> {
    let (connection, io_threads) = Connection::stdio();
    let capabilities = serde_json::to_value(capabilities()).map_err(|e| e.to_string())?;
    let init = connection
        .initialize(capabilities)
        .map_err(|e| format!("the client's initialize request failed: {e}"))?;
    let params: InitializeParams =
        serde_json::from_value(init).map_err(|e| format!("initialize parameters: {e}"))?;
    let debounce = params
        .initialization_options
        .as_ref()
        .and_then(|o| o.get("debounceMs"))
        .and_then(Value::as_u64)
        .map_or(DEFAULT_DEBOUNCE, Duration::from_millis);
    let mut server = Server {
        connection,
        documents: HashMap::new(),
        debounce,
    };
    server.watch_files(&params.capabilities);
    let result = server.main_loop();
    drop(server);
    io_threads
        .join()
        .map_err(|e| format!("the connection failed: {e}"))?;
    result
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(PositionEncodingKind::UTF16),
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                save: Some(TextDocumentSyncSaveOptions::Supported(true)),
                ..TextDocumentSyncOptions::default()
            },
        )),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        completion_provider: Some(CompletionOptions {
            // `{` opens a placeholder; `.` continues a path (`std.comms.`); a space follows
            // the words after which a name goes (`when `, `notify `).
            trigger_characters: Some(vec!["{".into(), ".".into(), " ".into()]),
            ..CompletionOptions::default()
        }),
        document_symbol_provider: Some(OneOf::Left(true)),
        folding_range_provider: Some(FoldingRangeProviderCapability::Simple(true)),
        semantic_tokens_provider: Some(SemanticTokensServerCapabilities::SemanticTokensOptions(
            SemanticTokensOptions {
                legend: semantic::legend(),
                full: Some(SemanticTokensFullOptions::Bool(true)),
                range: None,
                ..SemanticTokensOptions::default()
            },
        )),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        ..ServerCapabilities::default()
    }
}

/// One open document.
struct Document {
    text: String,
    version: i32,
    path: Option<PathBuf>,
    /// When its analysis is due (set by an edit, cleared by the analysis).
    due: Option<Instant>,
    /// The last analysis whose own file parsed, and its index: what every feature but the
    /// diagnostics reads.
    good: Option<(Rc<Analysis>, Rc<Index>)>,
    /// The paths of every file the last analysis read (its imports, its `.sql` files), so an
    /// edit of one of them re-analyses this document too.
    reads: Vec<PathBuf>,
}

struct Server {
    connection: Connection,
    documents: HashMap<Url, Document>,
    debounce: Duration,
}

impl Server {
    fn main_loop(&mut self) -> Result<(), String> {
        loop {
            let due = self.documents.values().filter_map(|d| d.due).min();
            let message = match due {
                None => match self.connection.receiver.recv() {
                    Ok(m) => m,
                    Err(_) => return Err("the client closed the connection".into()),
                },
                Some(at) => match self.connection.receiver.recv_deadline(at) {
                    Ok(m) => m,
                    Err(e) if e.is_timeout() => {
                        self.analyze_due(Instant::now());
                        continue;
                    }
                    Err(_) => return Err("the client closed the connection".into()),
                },
            };
            match message {
                Message::Request(request) => {
                    match self.connection.handle_shutdown(&request) {
                        Ok(true) => return Ok(()),
                        Ok(false) => {}
                        Err(e) => return Err(format!("shutdown: {e}")),
                    }
                    let response = self.request(request);
                    self.send(Message::Response(response));
                }
                Message::Notification(n) => self.notification(n),
                // Answers to our own requests (the watcher registration): nothing to do.
                Message::Response(_) => {}
            }
        }
    }

    fn send(&self, message: Message) {
        // A send fails only when the client is gone; the receive loop then ends.
        let _ = self.connection.sender.send(message);
    }

    /// Asks the client to report changes of the configuration, of `.deploy` and `.sql`
    /// files and of run histories, when it can watch files for us.
    fn watch_files(&self, client: &ClientCapabilities) {
        let dynamic = client
            .workspace
            .as_ref()
            .and_then(|w| w.did_change_watched_files.as_ref())
            .and_then(|w| w.dynamic_registration)
            .unwrap_or(false);
        if !dynamic {
            return;
        }
        let watchers = [
            "**/deployc.toml",
            "**/*.deploy",
            "**/*.sql",
            "**/.deployc/history",
        ]
        .into_iter()
        .map(|glob| FileSystemWatcher {
            glob_pattern: GlobPattern::String(glob.into()),
            kind: None,
        })
        .collect();
        let options = DidChangeWatchedFilesRegistrationOptions { watchers };
        let params = RegistrationParams {
            registrations: vec![Registration {
                id: "deployc-watched-files".into(),
                method: notif::DidChangeWatchedFiles::METHOD.into(),
                register_options: serde_json::to_value(options).ok(),
            }],
        };
        self.send(Message::Request(Request::new(
            RequestId::from("deployc-register-watchers".to_string()),
            req::RegisterCapability::METHOD.into(),
            params,
        )));
    }

    fn notification(&mut self, n: Notification) {
        match n.method.as_str() {
            notif::DidOpenTextDocument::METHOD => {
                let Ok(p) =
                    serde_json::from_value::<lsp_types::DidOpenTextDocumentParams>(n.params)
                else {
                    return;
                };
                let doc = p.text_document;
                self.documents.insert(
                    doc.uri.clone(),
                    Document {
                        path: uri::to_path(&doc.uri),
                        text: doc.text,
                        version: doc.version,
                        due: None,
                        good: None,
                        reads: Vec::new(),
                    },
                );
                self.analyze(&doc.uri);
            }
            notif::DidChangeTextDocument::METHOD => {
                let Ok(p) =
                    serde_json::from_value::<lsp_types::DidChangeTextDocumentParams>(n.params)
                else {
                    return;
                };
                let due = Instant::now() + self.debounce;
                if let Some(doc) = self.documents.get_mut(&p.text_document.uri) {
                    for change in p.content_changes {
                        position::apply_change(&mut doc.text, change);
                    }
                    doc.version = p.text_document.version;
                    doc.due = Some(due);
                }
                // Documents that import this one see the edit too.
                if let Some(path) = uri::to_path(&p.text_document.uri) {
                    let path = crate::resolve::normalize(&path);
                    for doc in self.documents.values_mut() {
                        if doc.reads.contains(&path) {
                            doc.due = Some(due);
                        }
                    }
                }
            }
            notif::DidCloseTextDocument::METHOD => {
                let Ok(p) =
                    serde_json::from_value::<lsp_types::DidCloseTextDocumentParams>(n.params)
                else {
                    return;
                };
                self.documents.remove(&p.text_document.uri);
                self.publish(p.text_document.uri, Vec::new(), None);
            }
            // A save or a change on disk can change what any document reads (an import, a
            // `.sql` file, `deployc.toml`, the history): every open document is analysed
            // again, now.
            notif::DidSaveTextDocument::METHOD | notif::DidChangeWatchedFiles::METHOD => {
                let now = Instant::now();
                for doc in self.documents.values_mut() {
                    doc.due = Some(now);
                }
                self.analyze_due(now);
            }
            _ => {}
        }
    }

    fn analyze_due(&mut self, now: Instant) {
        let due: Vec<Url> = self
            .documents
            .iter()
            .filter(|(_, d)| d.due.is_some_and(|t| t <= now))
            .map(|(u, _)| u.clone())
            .collect();
        for uri in due {
            self.analyze(&uri);
        }
    }

    /// Analyses a document now and publishes its diagnostics.
    fn analyze(&mut self, uri: &Url) {
        let overlay: HashMap<PathBuf, String> = self
            .documents
            .iter()
            .filter(|(u, _)| *u != uri)
            .filter_map(|(_, d)| {
                d.path
                    .as_ref()
                    .map(|p| (crate::resolve::normalize(p), d.text.clone()))
            })
            .collect();
        let Some(doc) = self.documents.get_mut(uri) else {
            return;
        };
        doc.due = None;
        let result = analysis::analyze(doc.path.as_deref(), &doc.text, &overlay);
        let diagnostics = diagnostics::to_lsp(&result);
        let version = doc.version;
        doc.reads = result
            .session
            .sources
            .files()
            .filter_map(|(_, f)| f.path.as_deref().map(crate::resolve::normalize))
            .collect();
        // The diagnostics go out first: they are what the user waits for after an edit; the
        // index only serves the requests that follow.
        self.publish(uri.clone(), diagnostics, Some(version));
        if result.ast().is_some() {
            let index = index::build(&result);
            if let Some(doc) = self.documents.get_mut(uri) {
                doc.good = Some((Rc::new(result), Rc::new(index)));
            }
        }
    }

    fn publish(&self, uri: Url, diagnostics: Vec<lsp_types::Diagnostic>, version: Option<i32>) {
        let params = lsp_types::PublishDiagnosticsParams {
            uri,
            diagnostics,
            version,
        };
        self.send(Message::Notification(Notification::new(
            notif::PublishDiagnostics::METHOD.into(),
            params,
        )));
    }

    /// The document a request is about, analysed up to its latest edit unless `stale_ok`.
    fn document(&mut self, uri: &Url, stale_ok: bool) -> Option<&Document> {
        if !stale_ok && self.documents.get(uri)?.due.is_some() {
            self.analyze(uri);
        }
        self.documents.get(uri)
    }

    fn request(&mut self, r: Request) -> Response {
        let id = r.id.clone();
        match self.answer(r) {
            Ok(value) => Response::new_ok(id, value),
            Err((code, message)) => Response::new_err(id, code as i32, message),
        }
    }

    fn answer(&mut self, r: Request) -> Result<Value, (ErrorCode, String)> {
        fn params<P: serde::de::DeserializeOwned>(v: Value) -> Result<P, (ErrorCode, String)> {
            serde_json::from_value(v).map_err(|e| (ErrorCode::InvalidParams, e.to_string()))
        }
        fn json<T: serde::Serialize>(v: T) -> Result<Value, (ErrorCode, String)> {
            serde_json::to_value(v).map_err(|e| (ErrorCode::InternalError, e.to_string()))
        }
        match r.method.as_str() {
            req::HoverRequest::METHOD => {
                let p: lsp_types::HoverParams = params(r.params)?;
                let at = p.text_document_position_params;
                json(
                    self.with_good(&at.text_document.uri, at.position, |a, i, offset| {
                        hover::hover(a, i, offset)
                    }),
                )
            }
            req::GotoDefinition::METHOD => {
                let p: lsp_types::GotoDefinitionParams = params(r.params)?;
                let at = p.text_document_position_params;
                json(
                    self.with_good(&at.text_document.uri, at.position, |a, i, offset| {
                        navigation::definition(a, i, offset)
                    }),
                )
            }
            req::References::METHOD => {
                let p: lsp_types::ReferenceParams = params(r.params)?;
                let at = p.text_document_position;
                let declaration = p.context.include_declaration;
                json(
                    self.with_good(&at.text_document.uri, at.position, |a, i, offset| {
                        Some(navigation::references(a, i, offset, declaration))
                    }),
                )
            }
            req::Completion::METHOD => {
                let p: lsp_types::CompletionParams = params(r.params)?;
                let at = p.text_document_position;
                let Some(doc) = self.document(&at.text_document.uri, true) else {
                    return Ok(Value::Null);
                };
                let offset = LineIndex::new(&doc.text).offset(at.position);
                let analysis = doc.good.as_ref().map(|(a, _)| a.as_ref());
                json(lsp_types::CompletionResponse::Array(completion::complete(
                    &doc.text, offset, analysis,
                )))
            }
            req::DocumentSymbolRequest::METHOD => {
                let p: lsp_types::DocumentSymbolParams = params(r.params)?;
                let Some((a, _)) = self.good(&p.text_document.uri) else {
                    return Ok(Value::Null);
                };
                let symbols = a.ast().map(|ast| outline::symbols(ast, a.text()));
                json(symbols.map(lsp_types::DocumentSymbolResponse::Nested))
            }
            req::FoldingRangeRequest::METHOD => {
                let p: lsp_types::FoldingRangeParams = params(r.params)?;
                let Some((a, _)) = self.good(&p.text_document.uri) else {
                    return Ok(Value::Null);
                };
                json(a.ast().map(|ast| outline::folding(ast, a.text())))
            }
            req::SemanticTokensFullRequest::METHOD => {
                let p: lsp_types::SemanticTokensParams = params(r.params)?;
                let uri = p.text_document.uri;
                let Some(doc) = self.document(&uri, false) else {
                    return Ok(Value::Null);
                };
                // Names are coloured only when the last good analysis is of this very text.
                let names = doc
                    .good
                    .as_ref()
                    .filter(|(a, _)| a.text() == doc.text)
                    .and_then(|(a, i)| Some((i.as_ref(), a.file()?)));
                let data = semantic::tokens(&doc.text, names);
                json(lsp_types::SemanticTokensResult::Tokens(
                    lsp_types::SemanticTokens {
                        result_id: None,
                        data,
                    },
                ))
            }
            req::CodeActionRequest::METHOD => {
                let p: lsp_types::CodeActionParams = params(r.params)?;
                let uri = p.text_document.uri;
                let Some(doc) = self.document(&uri, false) else {
                    return Ok(Value::Null);
                };
                // Fixes edit the current text: only an analysis of that text may offer them.
                let Some((a, _)) = doc.good.as_ref().filter(|(a, _)| a.text() == doc.text) else {
                    return json(Vec::<lsp_types::CodeActionOrCommand>::new());
                };
                let range = LineIndex::new(a.text()).byte_range(p.range);
                let actions: Vec<lsp_types::CodeActionOrCommand> = actions::actions(a, &uri, range)
                    .into_iter()
                    .map(lsp_types::CodeActionOrCommand::CodeAction)
                    .collect();
                json(actions)
            }
            req::Formatting::METHOD => {
                let p: lsp_types::DocumentFormattingParams = params(r.params)?;
                let Some(doc) = self.document(&p.text_document.uri, true) else {
                    return Ok(Value::Null);
                };
                match formatting::format(&doc.text) {
                    Ok(edits) => json(edits),
                    Err(message) => Err((ErrorCode::RequestFailed, message)),
                }
            }
            _ => Err((
                ErrorCode::MethodNotFound,
                format!("`{}` is not supported", r.method),
            )),
        }
    }

    /// The last good analysis of a document, analysed up to its latest edit.
    fn good(&mut self, uri: &Url) -> Option<(Rc<Analysis>, Rc<Index>)> {
        self.document(uri, false)?.good.clone()
    }

    /// Runs `f` on the last good analysis at `position` (a position in the current text,
    /// read against the analysed text: the same text unless the current one does not parse).
    fn with_good<T>(
        &mut self,
        uri: &Url,
        position: lsp_types::Position,
        f: impl FnOnce(&Analysis, &Index, usize) -> Option<T>,
    ) -> Option<T> {
        let (a, i) = self.good(uri)?;
        let offset = LineIndex::new(a.text()).offset(position);
        f(&a, &i, offset)
    }
}
