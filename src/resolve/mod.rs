//! Resolution: loading modules (files and the embedded stdlib), the import graph, and names.
//!
//! A [`Session`] owns the [`SourceMap`] and parses every file once, however many programs
//! import it. The stdlib is embedded in the binary and is always the first files of a session,
//! so its modules can be named by full path (`std.comms.done`) from anywhere.
//!
//! A [`Program`] is one root file plus everything it imports, transitively. Names are looked
//! up per module: the module's own items, then the items of its `import std.x` modules
//! (unqualified), then `alias.name` for file imports and `std.x.name` for any stdlib item.
//! The team, service, environments and releases of imported files join the program.
//!
//! Invariant: resolution never fails as a whole; problems are [`Error`]s and the program is
//! still built from whatever did resolve, so the checker can keep going.

mod settings;

use std::collections::HashMap;
use std::path::{Path as FsPath, PathBuf};

use crate::diagnostics::errors::Error;
use crate::source::{FileId, SourceMap, Span};
use crate::syntax::ast::*;

pub use settings::{EnvSettings, Origin, Setting};

/// The embedded stdlib: module name and source.
pub const STDLIB: &[(&str, &str)] = &[
    ("std.http", include_str!("../../stdlib/std/http.deploy")),
    ("std.comms", include_str!("../../stdlib/std/comms.deploy")),
    (
        "std.rollback",
        include_str!("../../stdlib/std/rollback.deploy"),
    ),
    (
        "std.checklists",
        include_str!("../../stdlib/std/checklists.deploy"),
    ),
];

/// Index of a module in a [`Session`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModuleId(pub usize);

/// Reads source files; the only IO the compiler does.
pub type ReadFile<'a> = dyn FnMut(&FsPath) -> std::io::Result<Vec<u8>> + 'a;

#[derive(Debug)]
pub struct LoadedModule {
    pub file: FileId,
    /// `std.http`, or the file name as given.
    pub name: String,
    pub is_std: bool,
    /// `None` when the file did not parse.
    pub ast: Option<Module>,
    pub errors: Vec<Error>,
    /// Resolved imports: (import span, module).
    pub imports: Vec<(ImportKind, ModuleId)>,
    imports_resolved: bool,
}

#[derive(Debug, Clone)]
pub enum ImportKind {
    Std { span: Span },
    File { alias: String, span: Span },
}

/// All files of one `deployc check` or `deployc plan` run.
pub struct Session {
    pub sources: SourceMap,
    pub modules: Vec<LoadedModule>,
    by_path: HashMap<PathBuf, ModuleId>,
    /// `.sql` files by (importing file, path as written): the loaded file or why it failed.
    sql_files: HashMap<(FileId, String), Result<FileId, String>>,
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

impl Session {
    pub fn new() -> Self {
        let mut s = Session {
            sources: SourceMap::new(),
            modules: Vec::new(),
            by_path: HashMap::new(),
            sql_files: HashMap::new(),
        };
        for (name, text) in STDLIB {
            let file_name = format!("<stdlib>/{}.deploy", name.replace('.', "/"));
            let file = s.sources.add(file_name, None, (*text).to_string());
            let (ast, errors) = crate::syntax::parse(file, text);
            s.modules.push(LoadedModule {
                file,
                name: (*name).to_string(),
                is_std: true,
                ast,
                errors,
                imports: Vec::new(),
                imports_resolved: false,
            });
        }
        s
    }

    pub fn std_module(&self, name: &str) -> Option<ModuleId> {
        self.modules
            .iter()
            .position(|m| m.is_std && m.name == name)
            .map(ModuleId)
    }

    pub fn module(&self, id: ModuleId) -> Option<&LoadedModule> {
        self.modules.get(id.0)
    }

    /// Loads and parses a file given its text (used by tests and by `check` of stdin).
    pub fn add_source(&mut self, name: &str, path: Option<PathBuf>, bytes: Vec<u8>) -> ModuleId {
        let (file, utf8_error) = self.add_text(name, path.clone(), bytes);
        let parsed = self.parse_text(file, utf8_error);
        self.push_module(file, name, path, parsed)
    }

    /// Adds a file's text to the source map; a file that is not UTF-8 is kept lossily, with
    /// the offset of its first bad byte.
    fn add_text(
        &mut self,
        name: &str,
        path: Option<PathBuf>,
        bytes: Vec<u8>,
    ) -> (FileId, Option<usize>) {
        let (text, utf8_error) = match String::from_utf8(bytes) {
            Ok(t) => (t, None),
            Err(e) => {
                let valid = e.utf8_error().valid_up_to();
                let t = String::from_utf8_lossy(e.as_bytes()).into_owned();
                (t, Some(valid))
            }
        };
        (self.sources.add(name, path, text), utf8_error)
    }

    /// Parses a file of the source map. Pure: it reads the session and changes nothing, so
    /// files can be parsed side by side.
    fn parse_text(&self, file: FileId, utf8_error: Option<usize>) -> (Option<Module>, Vec<Error>) {
        match utf8_error {
            Some(offset) => {
                // Report the bad byte and do not parse: offsets after it would be off.
                let err = Error::InvalidUtf8 {
                    span: Span::new(file, offset, offset + 1),
                };
                (None, vec![err])
            }
            None => {
                let text = self
                    .sources
                    .get(file)
                    .map(|f| f.text.as_str())
                    .unwrap_or("");
                crate::syntax::parse(file, text)
            }
        }
    }

    fn push_module(
        &mut self,
        file: FileId,
        name: &str,
        path: Option<PathBuf>,
        (ast, errors): (Option<Module>, Vec<Error>),
    ) -> ModuleId {
        let id = ModuleId(self.modules.len());
        self.modules.push(LoadedModule {
            file,
            name: name.to_string(),
            is_std: false,
            ast,
            errors,
            imports: Vec::new(),
            imports_resolved: false,
        });
        if let Some(p) = path {
            self.by_path.insert(p, id);
        }
        id
    }

    /// Loads files from disk (each once per session), in order: read one after the other
    /// through `read`, parsed on every core. Returns each file's module.
    pub fn load_files(
        &mut self,
        files: &[(String, PathBuf)],
        read: &mut ReadFile<'_>,
    ) -> std::io::Result<Vec<ModuleId>> {
        // Each file: an already loaded module, or a new text (with its index among `texts`).
        let mut slots: Vec<Result<ModuleId, usize>> = Vec::with_capacity(files.len());
        let mut texts: Vec<(FileId, Option<usize>, String, PathBuf)> = Vec::new();
        let mut seen: HashMap<PathBuf, usize> = HashMap::new();
        for (display, path) in files {
            let key = normalize(path);
            if let Some(id) = self.by_path.get(&key) {
                slots.push(Ok(*id));
                continue;
            }
            if let Some(i) = seen.get(&key) {
                slots.push(Err(*i));
                continue;
            }
            let bytes = read(path).map_err(|e| {
                std::io::Error::new(e.kind(), format!("`{}`: {}", path.display(), io_reason(&e)))
            })?;
            let (file, utf8_error) = self.add_text(display, Some(key.clone()), bytes);
            seen.insert(key.clone(), texts.len());
            slots.push(Err(texts.len()));
            texts.push((file, utf8_error, display.clone(), key));
        }
        let this = &*self;
        let parsed = crate::parallel::map(&texts, |(file, utf8_error, _, _)| {
            this.parse_text(*file, *utf8_error)
        });
        let mut ids = Vec::with_capacity(texts.len());
        for ((file, _, display, key), p) in texts.into_iter().zip(parsed) {
            ids.push(self.push_module(file, &display, Some(key), p));
        }
        Ok(slots
            .into_iter()
            .filter_map(|s| match s {
                Ok(id) => Some(id),
                Err(i) => ids.get(i).copied(),
            })
            .collect())
    }

    /// Loads a file from disk (once per session).
    pub fn load_file(
        &mut self,
        display: &str,
        path: &FsPath,
        read: &mut ReadFile<'_>,
    ) -> std::io::Result<ModuleId> {
        let key = normalize(path);
        if let Some(id) = self.by_path.get(&key) {
            return Ok(*id);
        }
        let bytes = read(path)?;
        Ok(self.add_source(display, Some(key), bytes))
    }

    /// Reads a `.sql` file named in `from` (relative to it) into the source map, once.
    pub fn load_sql(&mut self, from: FileId, rel: &str, read: &mut ReadFile<'_>) {
        let key = (from, rel.to_string());
        if self.sql_files.contains_key(&key) {
            return;
        }
        let importer = self.sources.get(from);
        let base = importer
            .and_then(|f| f.path.clone())
            .and_then(|p| p.parent().map(|d| d.to_path_buf()));
        let display_base = importer
            .map(|f| {
                FsPath::new(&f.name)
                    .parent()
                    .map(|p| p.to_path_buf())
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        let full = match &base {
            Some(b) => b.join(rel),
            None => PathBuf::from(rel),
        };
        let display = normalize(&display_base.join(rel))
            .to_string_lossy()
            .into_owned();
        if let Some(root) = outside_project(base.as_deref(), &full) {
            self.sql_files.insert(
                key,
                Err(format!("the file is outside the project `{root}`")),
            );
            return;
        }
        let result = match read(&full) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Ok(self.sources.add(display, Some(normalize(&full)), text)),
                Err(_) => Err("the file is not valid UTF-8".to_string()),
            },
            Err(e) => Err(io_reason(&e)),
        };
        self.sql_files.insert(key, result);
    }

    /// The `.sql` file loaded by [`Session::load_sql`].
    pub fn sql_file(&self, from: FileId, rel: &str) -> Result<FileId, String> {
        self.sql_files
            .get(&(from, rel.to_string()))
            .cloned()
            .unwrap_or_else(|| Err("the file was not loaded".to_string()))
    }

    /// Resolves imports of `root` transitively and returns the program.
    pub fn program(&mut self, root: ModuleId, read: &mut ReadFile<'_>) -> Program {
        let mut errors = Vec::new();
        let mut order = Vec::new();
        let mut stack = Vec::new();
        self.visit(root, read, &mut stack, &mut order, &mut errors);
        Program {
            root,
            modules: order,
            errors,
        }
    }

    fn visit(
        &mut self,
        id: ModuleId,
        read: &mut ReadFile<'_>,
        stack: &mut Vec<(ModuleId, Span)>,
        order: &mut Vec<ModuleId>,
        errors: &mut Vec<Error>,
    ) {
        if order.contains(&id) {
            return;
        }
        if !self.modules.get(id.0).is_some_and(|m| m.imports_resolved) {
            self.resolve_imports(id, read);
        }
        let imports = self
            .modules
            .get(id.0)
            .map(|m| m.imports.clone())
            .unwrap_or_default();
        for (kind, target) in imports {
            let span = match &kind {
                ImportKind::Std { span } | ImportKind::File { span, .. } => *span,
            };
            if target == id || stack.iter().any(|(m, _)| *m == target) {
                let start = stack
                    .iter()
                    .position(|(m, _)| *m == target)
                    .unwrap_or(stack.len());
                let mut cycle: Vec<String> = stack
                    .get(start..)
                    .unwrap_or(&[])
                    .iter()
                    .map(|(m, _)| self.module_name(*m))
                    .collect();
                cycle.push(self.module_name(id));
                cycle.push(self.module_name(target));
                let err = Error::ImportCycle { span, cycle };
                if !errors.contains(&err) {
                    errors.push(err);
                }
                continue;
            }
            stack.push((id, span));
            self.visit(target, read, stack, order, errors);
            stack.pop();
        }
        if !order.contains(&id) {
            order.push(id);
        }
    }

    fn module_name(&self, id: ModuleId) -> String {
        self.modules
            .get(id.0)
            .map(|m| m.name.clone())
            .unwrap_or_default()
    }

    fn resolve_imports(&mut self, id: ModuleId, read: &mut ReadFile<'_>) {
        let Some(m) = self.modules.get(id.0) else {
            return;
        };
        let base = self
            .sources
            .get(m.file)
            .and_then(|f| f.path.clone())
            .and_then(|p| p.parent().map(|d| d.to_path_buf()));
        let display_base = FsPath::new(&m.name).parent().map(|p| p.to_path_buf());
        let imports: Vec<Import> = m
            .ast
            .as_ref()
            .map(|a| {
                a.items
                    .iter()
                    .filter_map(|i| match i {
                        Item::Import(imp) => Some(imp.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut resolved = Vec::new();
        let mut errors = Vec::new();
        for imp in imports {
            match &imp.target {
                ImportTarget::Std(path) => {
                    let name = path.to_string_dotted();
                    match self.std_module(&name) {
                        Some(target) => resolved.push((ImportKind::Std { span: imp.span }, target)),
                        None => {
                            let names: Vec<&str> = STDLIB.iter().map(|(n, _)| *n).collect();
                            errors.push(Error::ImportNotFound {
                                span: path.span,
                                target: name.clone(),
                                suggestion: suggest(&name, names.iter().copied()),
                            });
                        }
                    }
                }
                ImportTarget::File { path, alias } => {
                    let rel = FsPath::new(&path.value);
                    let full = match &base {
                        Some(b) => b.join(rel),
                        None => rel.to_path_buf(),
                    };
                    if let Some(root) = outside_project(base.as_deref(), &full) {
                        errors.push(Error::ImportOutsideProject {
                            span: path.span,
                            target: path.value.clone(),
                            root,
                        });
                        continue;
                    }
                    let display = match &display_base {
                        Some(b) if !b.as_os_str().is_empty() => {
                            normalize(&b.join(rel)).to_string_lossy().into_owned()
                        }
                        _ => normalize(rel).to_string_lossy().into_owned(),
                    };
                    match self.load_file(&display, &full, read) {
                        Ok(target) => resolved.push((
                            ImportKind::File {
                                alias: alias.name.clone(),
                                span: imp.span,
                            },
                            target,
                        )),
                        Err(_) => errors.push(Error::ImportNotFound {
                            span: path.span,
                            target: path.value.clone(),
                            suggestion: None,
                        }),
                    }
                }
            }
        }
        if let Some(m) = self.modules.get_mut(id.0) {
            m.imports = resolved;
            m.imports_resolved = true;
            m.errors.extend(errors);
        }
    }
}

/// A short reason for an IO error, without the OS error number.
/// The project an importing file belongs to: the nearest directory at or above it holding
/// `deployc.toml` or `.git`, else the file's own directory. Returns that root, shown, when
/// `target` (followed through symbolic links when it exists) lies outside it: an import
/// must not read files elsewhere on the machine (`/proc/self/environ`, `~/.ssh/…`).
fn outside_project(importer_dir: Option<&FsPath>, target: &FsPath) -> Option<String> {
    let dir = match importer_dir {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => FsPath::new("."),
    };
    let Ok(dir) = std::fs::canonicalize(dir) else {
        // No directory to stand in (an in-memory compilation): only relative paths that
        // stay below it are imports.
        let escapes = target.is_absolute()
            || normalize(target)
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir));
        return escapes.then(|| ".".to_string());
    };
    let root = dir
        .ancestors()
        .find(|d| d.join("deployc.toml").is_file() || d.join(".git").exists())
        .unwrap_or(&dir)
        .to_path_buf();
    let resolved = std::fs::canonicalize(target).unwrap_or_else(|_| normalize(&dir.join(target)));
    (!resolved.starts_with(&root)).then(|| root.display().to_string())
}

pub fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a directory".into(),
        _ => e.to_string(),
    }
}

/// Removes `.` and `..` components lexically, so one file has one key.
pub fn normalize(p: &FsPath) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// The closest candidate to `name`, if it is close enough to be a likely typo.
pub fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut best: Option<(f64, &str)> = None;
    for c in candidates {
        if c == name {
            continue;
        }
        let score = strsim::jaro_winkler(name, c);
        if score > 0.8 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c.to_string())
}

/// One root file and everything it imports.
pub struct Program {
    pub root: ModuleId,
    /// Every module of the program, imports before importers; the root is last.
    pub modules: Vec<ModuleId>,
    /// Import cycles found while building it.
    pub errors: Vec<Error>,
}

/// The names of one kind visible from a module, shared by every lookup that asks.
type VisibleNames = std::sync::Arc<Vec<String>>;

/// What a name can denote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Channel,
    Metric,
    Message,
    Strategy,
    Rollback,
    Comms,
    Checklist,
    Environment,
    Role,
    Migration,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Channel => "channel",
            Kind::Metric => "metric",
            Kind::Message => "message template",
            Kind::Strategy => "strategy",
            Kind::Rollback => "rollback block",
            Kind::Comms => "comms block",
            Kind::Checklist => "checklist",
            Kind::Environment => "environment",
            Kind::Role => "role",
            Kind::Migration => "migration",
        }
    }
}

/// A resolved name.
#[derive(Debug, Clone, Copy)]
pub enum Def<'a> {
    Channel(&'a Channel),
    Metric(&'a Metric),
    Message(&'a MessageDef),
    Strategy(&'a NamedStrategy),
    Rollback(&'a NamedRollback),
    Comms(&'a NamedComms),
    Checklist(&'a NamedChecklist),
    Environment(&'a Environment),
    Role(&'a Role),
    /// A block parameter: its name and declared kind.
    Param(&'a Param),
}

impl Def<'_> {
    pub fn kind(&self) -> Kind {
        match self {
            Def::Channel(_) => Kind::Channel,
            Def::Metric(_) => Kind::Metric,
            Def::Message(_) => Kind::Message,
            Def::Strategy(_) => Kind::Strategy,
            Def::Rollback(_) => Kind::Rollback,
            Def::Comms(_) => Kind::Comms,
            Def::Checklist(_) => Kind::Checklist,
            Def::Environment(_) => Kind::Environment,
            Def::Role(_) => Kind::Role,
            Def::Param(p) => match p.kind.value {
                ParamKind::Channel => Kind::Channel,
                ParamKind::Role => Kind::Role,
                ParamKind::Metric => Kind::Metric,
            },
        }
    }
    pub fn span(&self) -> Span {
        match self {
            Def::Channel(d) => d.name.span,
            Def::Metric(d) => d.name.span,
            Def::Message(d) => d.name.span,
            Def::Strategy(d) => d.name.span,
            Def::Rollback(d) => d.name.span,
            Def::Comms(d) => d.name.span,
            Def::Checklist(d) => d.name.span,
            Def::Environment(d) => d.name.span,
            Def::Role(d) => d.name.span,
            Def::Param(p) => p.name.span,
        }
    }
}

/// Top-level names of one module, per kind (the team's roles are program-wide).
fn item_def<'a>(item: &'a Item) -> Option<(&'a str, Def<'a>)> {
    Some(match item {
        Item::Channel(c) => (c.name.name.as_str(), Def::Channel(c)),
        Item::Metric(m) => (m.name.name.as_str(), Def::Metric(m)),
        Item::Message(m) => (m.name.name.as_str(), Def::Message(m)),
        Item::Strategy(s) => (s.name.name.as_str(), Def::Strategy(s)),
        Item::Rollback(r) => (r.name.name.as_str(), Def::Rollback(r)),
        Item::Comms(c) => (c.name.name.as_str(), Def::Comms(c)),
        Item::Checklist(c) => (c.name.name.as_str(), Def::Checklist(c)),
        Item::Environment(e) => (e.name.name.as_str(), Def::Environment(e)),
        _ => return None,
    })
}

/// Name lookup over a program.
pub struct Names<'a> {
    pub session: &'a Session,
    pub program: &'a Program,
    /// Every named item of every loaded module by (module, name), in item order: lookups
    /// are hashed, not scans, because lowering a plan looks up every metric of every
    /// condition, and programs have hundreds of metrics.
    index: HashMap<(ModuleId, &'a str), Vec<Def<'a>>>,
    /// The names of each kind visible from a module, made on first use: an unknown name
    /// asks for them to suggest one, and a program with many unknown names must not scan
    /// every item once per name.
    visible: std::sync::Mutex<HashMap<(ModuleId, Kind), VisibleNames>>,
    /// The team's roles by name (the first of a name): every role reference is looked up
    /// here rather than by a scan of the program's items.
    roles_by_name: HashMap<&'a str, &'a Role>,
}

impl<'a> Names<'a> {
    pub fn new(session: &'a Session, program: &'a Program) -> Self {
        let mut index: HashMap<(ModuleId, &'a str), Vec<Def<'a>>> = HashMap::new();
        // The program's modules and the stdlib (reachable as `std.m.name` without an
        // import); not every module of the session, which holds every root of a check run.
        let std = STDLIB
            .iter()
            .filter_map(|(name, _)| session.std_module(name));
        let mut seen = std::collections::HashSet::new();
        for id in program.modules.iter().copied().chain(std) {
            let Some(ast) = session.module(id).and_then(|m| m.ast.as_ref()) else {
                continue;
            };
            if !seen.insert(id) {
                continue;
            }
            for (name, def) in ast.items.iter().filter_map(item_def) {
                index.entry((id, name)).or_default().push(def);
            }
        }
        let mut names = Names {
            session,
            program,
            index,
            visible: std::sync::Mutex::default(),
            roles_by_name: HashMap::new(),
        };
        let mut roles_by_name = HashMap::new();
        for r in names.roles() {
            roles_by_name.entry(r.name.name.as_str()).or_insert(r);
        }
        names.roles_by_name = roles_by_name;
        names
    }

    fn items(&self, m: ModuleId) -> &'a [Item] {
        self.session
            .module(m)
            .and_then(|m| m.ast.as_ref())
            .map(|a| a.items.as_slice())
            .unwrap_or(&[])
    }

    /// Every non-stdlib module of the program.
    pub fn user_modules(&self) -> impl Iterator<Item = ModuleId> + '_ {
        self.program
            .modules
            .iter()
            .copied()
            .filter(|m| self.session.module(*m).is_some_and(|m| !m.is_std))
    }

    /// Every item of the user's modules (not the stdlib), with its module.
    pub fn user_items(&self) -> impl Iterator<Item = (ModuleId, &'a Item)> + '_ {
        self.user_modules()
            .flat_map(move |m| self.items(m).iter().map(move |i| (m, i)))
    }

    /// Every item of every module of the program (stdlib included).
    pub fn all_items(&self) -> impl Iterator<Item = (ModuleId, &'a Item)> + '_ {
        self.program
            .modules
            .iter()
            .flat_map(move |m| self.items(*m).iter().map(move |i| (*m, i)))
    }

    pub fn roles(&self) -> impl Iterator<Item = &'a Role> + '_ {
        self.user_items().flat_map(|(_, i)| match i {
            Item::Team(t) => t.roles.as_slice(),
            _ => &[],
        })
    }

    pub fn team(&self) -> Option<&'a Team> {
        self.user_items().find_map(|(_, i)| match i {
            Item::Team(t) => Some(t),
            _ => None,
        })
    }

    pub fn service(&self) -> Option<&'a Service> {
        self.user_items().find_map(|(_, i)| match i {
            Item::Service(s) => Some(s),
            _ => None,
        })
    }

    pub fn environments(&self) -> impl Iterator<Item = &'a Environment> + '_ {
        self.user_items().filter_map(|(_, i)| match i {
            Item::Environment(e) => Some(e),
            _ => None,
        })
    }

    /// Releases in file order (root's own, after those of imported files).
    pub fn releases(&self) -> impl Iterator<Item = (ModuleId, &'a Release)> + '_ {
        self.user_items().filter_map(|(m, i)| match i {
            Item::Release(r) => Some((m, r)),
            _ => None,
        })
    }

    /// Looks a name up from `module`, with the block parameters `params` in scope first.
    /// Returns every definition visible under that name (the caller checks the kind).
    pub fn lookup(&self, module: ModuleId, params: &'a [Param], path: &Path) -> Option<Def<'a>> {
        self.lookup_kind(module, params, path, None)
    }

    /// Like [`Names::lookup`], preferring a definition of `kind` where several items share
    /// the name (a channel and a metric may both be called `ops`).
    pub fn lookup_kind(
        &self,
        module: ModuleId,
        params: &'a [Param],
        path: &Path,
        kind: Option<Kind>,
    ) -> Option<Def<'a>> {
        if kind.is_some()
            && let Some(d) = self.lookup_exact(module, params, path, kind)
        {
            return Some(d);
        }
        self.lookup_exact(module, params, path, None)
    }

    fn lookup_exact(
        &self,
        module: ModuleId,
        params: &'a [Param],
        path: &Path,
        kind: Option<Kind>,
    ) -> Option<Def<'a>> {
        let fits = |d: &Def<'_>| kind.is_none_or(|k| d.kind() == k);
        let segs: Vec<&str> = path.segments.iter().map(|s| s.name.as_str()).collect();
        match segs.as_slice() {
            [name] => {
                if let Some(p) = params
                    .iter()
                    .find(|p| p.name.name == *name && fits(&Def::Param(p)))
                {
                    return Some(Def::Param(p));
                }
                if let Some(d) = self.find_in(module, name, kind) {
                    return Some(d);
                }
                for (import, target) in self.imports(module) {
                    if matches!(import, ImportKind::Std { .. })
                        && let Some(d) = self.find_in(*target, name, kind)
                    {
                        return Some(d);
                    }
                }
                self.roles_by_name
                    .get(*name)
                    .map(|r| Def::Role(r))
                    .filter(|d| fits(d))
            }
            ["std", module_name, name] => {
                let target = self.session.std_module(&format!("std.{module_name}"))?;
                self.find_in(target, name, kind)
            }
            [alias, name] => {
                let (_, target) = self
                    .imports(module)
                    .iter()
                    .find(|(k, _)| matches!(k, ImportKind::File { alias: a, .. } if a == alias))?;
                self.find_in(*target, name, kind)
            }
            _ => None,
        }
    }

    fn imports(&self, module: ModuleId) -> &'a [(ImportKind, ModuleId)] {
        self.session
            .module(module)
            .map(|m| m.imports.as_slice())
            .unwrap_or(&[])
    }

    fn find_in(&self, module: ModuleId, name: &str, kind: Option<Kind>) -> Option<Def<'a>> {
        self.index
            .get(&(module, name))?
            .iter()
            .find(|d| kind.is_none_or(|k| d.kind() == k))
            .copied()
    }

    /// Names visible from `module` (for "did you mean").
    pub fn visible_names(&self, module: ModuleId, params: &'a [Param], kind: Kind) -> Vec<String> {
        let mut out: Vec<String> = params
            .iter()
            .filter(|p| Def::Param(p).kind() == kind)
            .map(|p| p.name.name.clone())
            .collect();
        out.extend(self.module_names(module, kind).iter().cloned());
        out
    }

    /// The names of `kind` visible from `module` (its items, its imports, the stdlib),
    /// computed once per module and kind.
    fn module_names(&self, module: ModuleId, kind: Kind) -> VisibleNames {
        if let Ok(cache) = self.visible.lock()
            && let Some(names) = cache.get(&(module, kind))
        {
            return names.clone();
        }
        let mut out = Vec::new();
        let add_module = |m: ModuleId, prefix: &str, out: &mut Vec<String>| {
            for (n, d) in self.items(m).iter().filter_map(item_def) {
                if d.kind() == kind {
                    out.push(format!("{prefix}{n}"));
                }
            }
        };
        add_module(module, "", &mut out);
        for (k, target) in self.imports(module) {
            match k {
                ImportKind::Std { .. } => add_module(*target, "", &mut out),
                ImportKind::File { alias, .. } => {
                    add_module(*target, &format!("{alias}."), &mut out)
                }
            }
        }
        for (name, _) in STDLIB {
            if let Some(id) = self.session.std_module(name) {
                add_module(id, &format!("{name}."), &mut out);
            }
        }
        if kind == Kind::Role {
            out.extend(self.roles().map(|r| r.name.name.clone()));
        }
        let names = std::sync::Arc::new(out);
        if let Ok(mut cache) = self.visible.lock() {
            cache.insert((module, kind), names.clone());
        }
        names
    }
}
