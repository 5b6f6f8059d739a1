//! Every hard error (`E…`) of the compiler, as data, and its wording.
//!
//! Stages push [`Error`] values; [`Error::to_diagnostic`] is the only place that decides what
//! the user reads. Style: lowercase, no final period, user text in backticks, advice in
//! `help`, every label on the exact span. Codes are stable: users search for them.

use super::{Diagnostic, Label};
use crate::source::Span;

/// A hard error. Field `span` is always where the problem is.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    // E1xx — syntax
    Syntax {
        span: Span,
        expected: Vec<String>,
        found: String,
    },
    UnterminatedString {
        span: Span,
    },
    BadUnit {
        span: Span,
        text: String,
        help: String,
    },
    InvalidUtf8 {
        span: Span,
    },
    NumberTooLarge {
        span: Span,
    },
    InvalidEscape {
        span: Span,
    },
    /// Brackets nested beyond [`crate::syntax::MAX_NESTING`]: the file is not parsed, so that
    /// hostile input cannot exhaust the stack of the parsers or of the stages after them.
    NestedTooDeeply {
        span: Span,
        limit: usize,
    },

    // E2xx — names
    UnknownName {
        span: Span,
        kind: &'static str,
        name: String,
        suggestion: Option<String>,
    },
    Duplicate {
        kind: &'static str,
        name: String,
        first: Span,
        second: Span,
    },
    ImportNotFound {
        span: Span,
        target: String,
        suggestion: Option<String>,
    },
    ImportCycle {
        span: Span,
        cycle: Vec<String>,
    },
    /// A file import that leads outside the importing file's project.
    ImportOutsideProject {
        span: Span,
        target: String,
        /// The project's root directory, as shown.
        root: String,
    },
    WrongKind {
        span: Span,
        name: String,
        expected: &'static str,
        found: &'static str,
        definition: Option<Span>,
    },
    NoService {
        span: Span,
    },
    UnknownSetting {
        span: Span,
        what: &'static str,
        name: String,
        valid: Vec<&'static str>,
        suggestion: Option<String>,
    },
    ArgumentCount {
        span: Span,
        name: String,
        expected: usize,
        found: usize,
        definition: Span,
    },

    // E3xx — types and units
    TypeMismatch {
        span: Span,
        metric: String,
        metric_span: Span,
        metric_kind: &'static str,
        value_kind: &'static str,
        example: &'static str,
    },
    PercentOutOfRange {
        span: Span,
        value: f64,
        what: &'static str,
    },
    NegativeDuration {
        span: Span,
    },
    BaselineOnLeft {
        span: Span,
    },
    UnknownPlaceholder {
        span: Span,
        name: String,
        context: &'static str,
        valid: Vec<String>,
        suggestion: Option<String>,
    },
    /// A placeholder valid where it is written that an environment cannot fill.
    UnavailablePlaceholder {
        span: Span,
        name: &'static str,
        environment: String,
        /// Why it has no value there.
        why: &'static str,
        help: &'static str,
    },
    InvalidTimeZone {
        span: Span,
        name: String,
        suggestion: Option<String>,
    },
    RangeEndBeforeStart {
        span: Span,
        what: &'static str,
    },
    BadSemver {
        span: Span,
        version: String,
        reason: String,
    },
    InvalidDate {
        span: Span,
    },
    MustBePositive {
        span: Span,
        what: &'static str,
    },
    InvalidTime {
        span: Span,
    },
    NoMetricInComparison {
        span: Span,
    },

    // E4xx — structure
    MigrationCycle {
        span: Span,
        cycle: Vec<String>,
        spans: Vec<Span>,
    },
    ContractOfNotExpand {
        span: Span,
        target: String,
        target_span: Span,
        target_phase: &'static str,
    },
    ContractOfLaterRelease {
        span: Span,
        target: String,
        target_span: Span,
        release: String,
        target_release: String,
    },
    MissingUp {
        span: Span,
        name: String,
    },
    SqlFileNotFound {
        span: Span,
        path: String,
        reason: String,
    },
    SqlParse {
        span: Span,
        message: String,
        statement_span: Option<Span>,
        from_file: Option<Span>,
    },
    CanaryWithoutSteps {
        span: Span,
    },
    DuplicateVersion {
        version: String,
        first: Span,
        second: Span,
    },
    ContractWithoutOf {
        span: Span,
        name: String,
    },
    OfOnNonContract {
        span: Span,
        phase: &'static str,
    },
    MissingSetting {
        span: Span,
        item: String,
        setting: &'static str,
        example: &'static str,
    },
    RepeatedSetting {
        setting: String,
        first: Span,
        second: Span,
    },
    AfterOtherRelease {
        span: Span,
        target: String,
        target_span: Span,
    },
    DownAndIrreversible {
        down: Span,
        irreversible: Span,
    },
    ReleaseOutOfOrder {
        span: Span,
        version: String,
        previous: String,
        previous_span: Span,
    },
    /// `batch N` on a migration the runtime cannot restrict to a key range.
    Unbatchable {
        span: Span,
        reason: String,
    },
    /// `backup = run "…"` without `restore "…"`.
    BackupWithoutRestore {
        span: Span,
    },
    /// `approval after PLACE` names a step the release does not have.
    GateWithoutStep {
        span: Span,
        place: String,
        /// Why there is no such step: `the canary has 3 steps`.
        why: String,
        /// The places a gate of this release may follow.
        valid: Vec<String>,
    },

    // E5xx — targets: what an environment's provider can do
    ClusterValueKind {
        span: Span,
        setting: String,
        expected: &'static str,
        example: &'static str,
    },
    InvalidKubernetesName {
        span: Span,
        setting: String,
        name: String,
        reason: &'static str,
    },
    ImageWithoutVersion {
        span: Span,
    },
    WeightNotExpressible {
        span: Span,
        weight: f64,
        replicas: u64,
        replicas_span: Span,
        environment: String,
        suggestion: u64,
    },
    StrategyNotSupported {
        span: Span,
        strategy: &'static str,
        provider: &'static str,
        provider_span: Span,
        environment: String,
        help: &'static str,
    },
    ClusterSettingNeeded {
        span: Span,
        setting: &'static str,
        provider: &'static str,
        provider_span: Span,
        environment: String,
        why: &'static str,
        example: &'static str,
    },
}

fn quote_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("`{s}`")).collect();
    match quoted.len() {
        0 => String::new(),
        1 => quoted.join(""),
        n => {
            let (head, tail) = quoted.split_at(n - 1);
            format!("{} or {}", head.join(", "), tail.join(""))
        }
    }
}

fn words_list(items: &[String]) -> String {
    match items.len() {
        0 => String::new(),
        1 => items.join(""),
        n => {
            let (head, tail) = items.split_at(n - 1);
            format!("{} or {}", head.join(", "), tail.join(""))
        }
    }
}

impl Error {
    pub fn code(&self) -> &'static str {
        match self {
            Error::Syntax { .. } => "E101",
            Error::UnterminatedString { .. } => "E102",
            Error::BadUnit { .. } => "E103",
            Error::InvalidUtf8 { .. } => "E104",
            Error::NumberTooLarge { .. } => "E105",
            Error::InvalidEscape { .. } => "E106",
            Error::NestedTooDeeply { .. } => "E107",
            Error::UnknownName { .. } => "E201",
            Error::Duplicate { .. } => "E202",
            Error::ImportNotFound { .. } => "E203",
            Error::ImportCycle { .. } => "E204",
            Error::WrongKind { .. } => "E205",
            Error::NoService { .. } => "E206",
            Error::UnknownSetting { .. } => "E207",
            Error::ArgumentCount { .. } => "E208",
            Error::ImportOutsideProject { .. } => "E209",
            Error::TypeMismatch { .. } => "E301",
            Error::PercentOutOfRange { .. } => "E302",
            Error::NegativeDuration { .. } => "E303",
            Error::BaselineOnLeft { .. } => "E304",
            Error::UnknownPlaceholder { .. } => "E305",
            Error::UnavailablePlaceholder { .. } => "E314",
            Error::InvalidTimeZone { .. } => "E306",
            Error::RangeEndBeforeStart { .. } => "E307",
            Error::BadSemver { .. } => "E308",
            Error::InvalidDate { .. } => "E309",
            Error::MustBePositive { .. } => "E310",
            Error::InvalidTime { .. } => "E311",
            Error::NoMetricInComparison { .. } => "E312",
            Error::MigrationCycle { .. } => "E401",
            Error::ContractOfNotExpand { .. } => "E402",
            Error::ContractOfLaterRelease { .. } => "E403",
            Error::MissingUp { .. } => "E404",
            Error::SqlFileNotFound { .. } => "E406",
            Error::SqlParse { .. } => "E407",
            Error::CanaryWithoutSteps { .. } => "E408",
            Error::DuplicateVersion { .. } => "E409",
            Error::ContractWithoutOf { .. } => "E410",
            Error::OfOnNonContract { .. } => "E411",
            Error::MissingSetting { .. } => "E412",
            Error::RepeatedSetting { .. } => "E413",
            Error::AfterOtherRelease { .. } => "E414",
            Error::DownAndIrreversible { .. } => "E415",
            Error::ReleaseOutOfOrder { .. } => "E416",
            Error::Unbatchable { .. } => "E417",
            Error::BackupWithoutRestore { .. } => "E418",
            Error::GateWithoutStep { .. } => "E419",
            Error::ClusterValueKind { .. } => "E601",
            Error::InvalidKubernetesName { .. } => "E602",
            Error::ImageWithoutVersion { .. } => "E603",
            Error::WeightNotExpressible { .. } => "E604",
            Error::StrategyNotSupported { .. } => "E605",
            Error::ClusterSettingNeeded { .. } => "E606",
        }
    }

    pub fn to_diagnostic(&self) -> Diagnostic {
        let d = Diagnostic::error(self.code(), self.message());
        match self {
            Error::Syntax {
                span,
                expected,
                found,
            } => {
                let label = if expected.is_empty() {
                    format!("unexpected {found}")
                } else {
                    format!("expected {}", words_list(expected))
                };
                d.with_label(Label::primary(*span, label))
            }
            Error::UnterminatedString { span } => d
                .with_label(Label::primary(*span, "this string has no closing `\"`"))
                .with_help("close the string on the same line, or use `\"\"\"…\"\"\"` for text over several lines"),
            Error::BadUnit { span, help, .. } => d
                .with_label(Label::primary(*span, "not a valid literal"))
                .with_help(help.clone()),
            Error::InvalidUtf8 { span } => d
                .with_label(Label::primary(*span, "this byte is not valid UTF-8"))
                .with_help("save the file as UTF-8"),
            Error::NumberTooLarge { span } => {
                d.with_label(Label::primary(*span, "this number does not fit"))
            }
            Error::NestedTooDeeply { span, limit } => d
                .with_label(Label::primary(
                    *span,
                    format!("this bracket is more than {limit} deep"),
                ))
                .with_help("split the condition: give its parts names, or write them as separate guards"),
            Error::InvalidEscape { span } => d
                .with_label(Label::primary(*span, "not a valid escape"))
                .with_help("`\\u{…}` takes 1 to 6 hexadecimal digits naming a Unicode scalar value"),
            Error::UnknownName {
                span,
                kind,
                suggestion,
                ..
            } => {
                let d = d.with_label(Label::primary(*span, format!("no {kind} of this name")));
                match suggestion {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d,
                }
            }
            Error::Duplicate {
                first, second, kind, ..
            } => d
                .with_label(Label::primary(*second, format!("{kind} defined again here")))
                .with_label(Label::secondary(*first, "first defined here"))
                .with_help("rename one of them or remove the repeat"),
            Error::ImportOutsideProject { span, root, .. } => d
                .with_label(Label::primary(*span, format!("this leads outside `{root}`")))
                .with_help("imports are read inside the project (the directory with `deployc.toml` or `.git`): copy the file into it"),
            Error::ImportNotFound {
                span, suggestion, ..
            } => {
                let d = d.with_label(Label::primary(*span, "cannot find this module"));
                match suggestion {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(
                        "stdlib modules are `std.http`, `std.comms`, `std.rollback` and `std.checklists`; files are imported as `import \"./file.deploy\" as name`",
                    ),
                }
            }
            Error::ImportCycle { span, cycle } => d
                .with_label(Label::primary(*span, "this import closes the cycle"))
                .with_note(format!("cycle: {}", cycle.join(" → "))),
            Error::WrongKind {
                span,
                expected,
                found,
                definition,
                ..
            } => {
                let mut d = d.with_label(Label::primary(
                    *span,
                    format!("expected a {expected}, found a {found}"),
                ));
                if let Some(def) = definition {
                    d = d.with_label(Label::secondary(*def, format!("the {found} is defined here")));
                }
                d
            }
            Error::NoService { span } => d
                .with_label(Label::primary(*span, "this release ships a service that is not declared"))
                .with_help("add `service NAME { health = http \"…\" }` to the file"),
            Error::UnknownSetting {
                span,
                valid,
                suggestion,
                ..
            } => {
                let d = d.with_label(Label::primary(*span, "not known here"));
                let valid: Vec<String> = valid.iter().map(|s| s.to_string()).collect();
                match suggestion {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help(format!("expected {}", quote_list(&valid))),
                }
            }
            Error::ArgumentCount {
                span,
                expected,
                definition,
                ..
            } => d
                .with_label(Label::primary(
                    *span,
                    format!(
                        "expected {expected} argument{}",
                        if *expected == 1 { "" } else { "s" }
                    ),
                ))
                .with_label(Label::secondary(*definition, "defined here")),
            Error::TypeMismatch {
                span,
                metric,
                metric_span,
                metric_kind,
                value_kind,
                example,
            } => d
                .with_label(Label::primary(*span, format!("this is a {value_kind}")))
                .with_label(Label::secondary(
                    *metric_span,
                    format!("`{metric}` is a {metric_kind}"),
                ))
                .with_help(format!("compare `{metric}` with a {metric_kind} like `{example}`")),
            Error::PercentOutOfRange { span, .. } => d
                .with_label(Label::primary(*span, "must be between 0% and 100%")),
            Error::NegativeDuration { span } => d
                .with_label(Label::primary(*span, "durations cannot be negative")),
            Error::BaselineOnLeft { span } => d
                .with_label(Label::primary(*span, "`baseline` must be on the right"))
                .with_help("write the metric first: `error_rate > 2x baseline`"),
            Error::UnavailablePlaceholder {
                span, why, help, ..
            } => d
                .with_label(Label::primary(*span, *why))
                .with_help(*help),
            Error::UnknownPlaceholder {
                span,
                valid,
                suggestion,
                ..
            } => {
                let d = d.with_label(Label::primary(*span, "unknown placeholder"));
                let d = match suggestion {
                    Some(s) => d.with_help(format!("did you mean `{{{s}}}`?")),
                    None => d,
                };
                let valid: Vec<String> = valid.iter().map(|v| format!("{{{v}}}")).collect();
                d.with_note(format!("valid here: {}", quote_list(&valid)))
                    .with_note("write `{{` for a literal brace")
            }
            Error::InvalidTimeZone {
                span, suggestion, ..
            } => {
                let d = d.with_label(Label::primary(*span, "not an IANA time zone"));
                match suggestion {
                    Some(s) => d.with_help(format!("did you mean `{s}`?")),
                    None => d.with_help("use a name from the IANA database, like `Europe/Berlin` or `UTC`"),
                }
            }
            Error::RangeEndBeforeStart { span, .. } => {
                d.with_label(Label::primary(*span, "the end comes before the start"))
            }
            Error::BadSemver { span, reason, .. } => d
                .with_label(Label::primary(*span, reason.clone()))
                .with_help("versions are semantic versions like `2.1.0` or `2.1.0-rc.1`"),
            Error::InvalidDate { span } => {
                d.with_label(Label::primary(*span, "no such calendar date"))
            }
            Error::MustBePositive { span, .. } => {
                d.with_label(Label::primary(*span, "must be greater than zero"))
            }
            Error::InvalidTime { span } => d
                .with_label(Label::primary(*span, "hours run 00–24 and minutes 00–59")),
            Error::NoMetricInComparison { span } => d
                .with_label(Label::primary(*span, "neither side names a metric"))
                .with_help("a condition compares a metric with a value: `error_rate < 1%`"),
            Error::MigrationCycle { span, cycle, spans } => {
                let mut d = d.with_label(Label::primary(*span, "this migration is part of a cycle"));
                for s in spans.iter().skip(1) {
                    d = d.with_label(Label::secondary(*s, "…and this one"));
                }
                d.with_note(format!("cycle: {}", cycle.join(" → ")))
                    .with_help("remove one `after` edge, or rely on the phase order (expand → data → index → contract)")
            }
            Error::ContractOfNotExpand {
                span,
                target,
                target_span,
                target_phase,
            } => d
                .with_label(Label::primary(*span, "`of` must name an expand migration"))
                .with_label(Label::secondary(
                    *target_span,
                    format!("`{target}` is a {target_phase} migration"),
                )),
            Error::ContractOfLaterRelease {
                span,
                target_span,
                release,
                target_release,
                ..
            } => d
                .with_label(Label::primary(*span, format!("this contract ships in {release}")))
                .with_label(Label::secondary(
                    *target_span,
                    format!("the expand ships later, in {target_release}"),
                ))
                .with_help("a contract must ship in a release after the one that expanded"),
            Error::MissingUp { span, .. } => d
                .with_label(Label::primary(*span, "no `up` in this migration"))
                .with_help("add `up = sql \"…\"` or `up = file \"….sql\"`"),
            Error::SqlFileNotFound { span, reason, .. } => {
                d.with_label(Label::primary(*span, reason.clone()))
            }
            Error::SqlParse {
                span,
                statement_span,
                from_file,
                ..
            } => {
                let mut d = d.with_label(Label::primary(*span, "here"));
                if let Some(s) = statement_span
                    && s != span {
                        d = d.with_label(Label::secondary(*s, "in this statement"));
                    }
                if let Some(f) = from_file {
                    d = d.with_label(Label::secondary(*f, "the SQL comes from this file"));
                }
                d.with_note("SQL is parsed as PostgreSQL")
            }
            Error::CanaryWithoutSteps { span } => d
                .with_label(Label::primary(*span, "no `step` in this canary"))
                .with_help("add steps like `step 5% for 10m require error_rate < 1%` ending with `step 100%`"),
            Error::DuplicateVersion { first, second, .. } => d
                .with_label(Label::primary(*second, "released again here"))
                .with_label(Label::secondary(*first, "first released here")),
            Error::ContractWithoutOf { span, .. } => d
                .with_label(Label::primary(*span, "this contract names no expand"))
                .with_help("write `contract NAME of EXPAND { … }`"),
            Error::OfOnNonContract { span, .. } => d
                .with_label(Label::primary(*span, "only a `contract` migration takes `of`")),
            Error::MissingSetting { span, example, .. } => d
                .with_label(Label::primary(*span, "declared here"))
                .with_help(format!("add `{example}`")),
            Error::RepeatedSetting { first, second, .. } => d
                .with_label(Label::primary(*second, "set again here"))
                .with_label(Label::secondary(*first, "first set here")),
            Error::AfterOtherRelease {
                span, target_span, ..
            } => d
                .with_label(Label::primary(*span, "`after` names a migration of another release"))
                .with_label(Label::secondary(*target_span, "defined here"))
                .with_help("migrations of earlier releases have already run; drop this edge"),
            Error::Unbatchable { span, reason } => d
                .with_label(Label::primary(*span, reason.clone()))
                .with_help(
                    "write one `UPDATE` or `DELETE` of one table whose rows the key range can \
                     choose (`batch N by KEY`, default `id`), or remove `batch`",
                ),
            Error::BackupWithoutRestore { span } => d
                .with_label(Label::primary(*span, "no `restore` command"))
                .with_help(
                    "add `restore \"CMD {file}\"`: past the point of no return the rollback \
                     offers to restore this backup",
                ),
            Error::DownAndIrreversible { down, irreversible } => d
                .with_label(Label::primary(*irreversible, "marked irreversible here"))
                .with_label(Label::secondary(*down, "but it has a `down` here"))
                .with_help("remove `irreversible` if the `down` undoes the migration, or remove the `down`"),
            Error::ReleaseOutOfOrder {
                span,
                previous,
                previous_span,
                ..
            } => d
                .with_label(Label::primary(*span, format!("comes after `{previous}` in the file")))
                .with_label(Label::secondary(*previous_span, "the earlier entry"))
                .with_help("list releases oldest first; the order decides expand/contract checks"),
            Error::GateWithoutStep {
                span, why, valid, ..
            } => d.with_label(Label::primary(*span, why.clone())).with_help(
                if valid.is_empty() {
                    "this release has no deploy step for an approval to follow".to_string()
                } else {
                    format!("an approval may follow: {}", valid.join(", "))
                },
            ),
            Error::ClusterValueKind {
                span,
                expected,
                example,
                ..
            } => d
                .with_label(Label::primary(*span, format!("expected {expected}")))
                .with_help(format!("write it like `{example}`")),
            Error::InvalidKubernetesName { span, reason, .. } => d
                .with_label(Label::primary(*span, *reason))
                .with_help(
                    "Kubernetes names are at most 63 lower-case letters, digits and `-`, \
                     starting and ending with a letter or digit",
                ),
            Error::ImageWithoutVersion { span } => d
                .with_label(Label::primary(*span, "every release would deploy this same image"))
                .with_help("name the version in the image, like `\"registry.example.com/app:{version}\"`"),
            Error::WeightNotExpressible {
                span,
                weight,
                replicas,
                replicas_span,
                suggestion,
                ..
            } => d
                .with_label(Label::primary(
                    *span,
                    format!(
                        "{} of {replicas} replicas is {} pods",
                        crate::lower::format::fmt_percent(*weight),
                        crate::lower::format::fmt_number(weight * *replicas as f64 / 100.0)
                    ),
                ))
                .with_label(Label::secondary(*replicas_span, "the replicas of the workload"))
                .with_help(format!(
                    "without a `route`, traffic is split by pod count: use weights that are whole \
                     multiples of a pod (`replicas = {suggestion}` expresses every step), or name a \
                     Gateway API HTTPRoute with `route = \"…\"` for exact weights"
                )),
            Error::StrategyNotSupported {
                span,
                provider,
                provider_span,
                help,
                ..
            } => d
                .with_label(Label::primary(*span, "this strategy"))
                .with_label(Label::secondary(
                    *provider_span,
                    format!("the `{provider}` provider"),
                ))
                .with_help(*help),
            Error::ClusterSettingNeeded {
                span,
                provider_span,
                why,
                example,
                ..
            } => d
                .with_label(Label::primary(*span, *why))
                .with_label(Label::secondary(*provider_span, "in this provider"))
                .with_help(format!("add `{example}`")),
        }
    }

    fn message(&self) -> String {
        match self {
            Error::Syntax { found, .. } => format!("unexpected {found}"),
            Error::UnterminatedString { .. } => "unterminated string".into(),
            Error::BadUnit { text, .. } => format!("bad unit literal `{text}`"),
            Error::InvalidUtf8 { .. } => "file is not valid UTF-8".into(),
            Error::NumberTooLarge { .. } => "number too large".into(),
            Error::InvalidEscape { .. } => "invalid escape in string".into(),
            Error::NestedTooDeeply { .. } => "nested too deeply".into(),
            Error::UnknownName { kind, name, .. } => format!("unknown {kind} `{name}`"),
            Error::Duplicate { kind, name, .. } => format!("{kind} `{name}` is defined twice"),
            Error::ImportNotFound { target, .. } => format!("cannot find module `{target}`"),
            Error::ImportOutsideProject { target, .. } => {
                format!("import `{target}` is outside the project")
            }
            Error::ImportCycle { .. } => "import cycle".into(),
            Error::WrongKind {
                name,
                expected,
                found,
                ..
            } => format!("`{name}` is a {found}, not a {expected}"),
            Error::NoService { .. } => "no service is declared".into(),
            Error::UnknownSetting { what, name, .. } => format!("unknown {what} `{name}`"),
            Error::ArgumentCount {
                name,
                expected,
                found,
                ..
            } => format!(
                "`{name}` takes {expected} argument{}, but {found} {} given",
                if *expected == 1 { "" } else { "s" },
                if *found == 1 { "was" } else { "were" }
            ),
            Error::TypeMismatch {
                metric,
                metric_kind,
                value_kind,
                ..
            } => format!("`{metric}` is a {metric_kind} but is compared with a {value_kind}"),
            Error::PercentOutOfRange { value, what, .. } => {
                format!("{what} `{value}%` is out of range")
            }
            Error::NegativeDuration { .. } => "negative duration".into(),
            Error::BaselineOnLeft { .. } => "`baseline` on the left of a comparison".into(),
            Error::UnknownPlaceholder { name, context, .. } => {
                format!("unknown placeholder `{{{name}}}` in {context}")
            }
            Error::UnavailablePlaceholder {
                name, environment, ..
            } => format!("`{{{name}}}` has no value in environment `{environment}`"),
            Error::InvalidTimeZone { name, .. } => format!("invalid time zone `{name}`"),
            Error::RangeEndBeforeStart { what, .. } => format!("{what} ends before it starts"),
            Error::BadSemver { version, .. } => format!("`{version}` is not a semantic version"),
            Error::InvalidDate { .. } => "invalid date".into(),
            Error::MustBePositive { what, .. } => format!("{what} must be positive"),
            Error::InvalidTime { .. } => "invalid time of day".into(),
            Error::NoMetricInComparison { .. } => "comparison without a metric".into(),
            Error::MigrationCycle { cycle, .. } => {
                format!("migrations form a cycle: {}", cycle.join(" → "))
            }
            Error::ContractOfNotExpand { target, .. } => {
                format!("`contract … of {target}` must name an expand migration")
            }
            Error::ContractOfLaterRelease { target, .. } => {
                format!("contract of `{target}` ships before its expand")
            }
            Error::MissingUp { name, .. } => format!("migration `{name}` has no `up`"),
            Error::SqlFileNotFound { path, .. } => format!("cannot read SQL file `{path}`"),
            Error::SqlParse { message, .. } => format!("SQL does not parse: {message}"),
            Error::CanaryWithoutSteps { .. } => "canary without steps".into(),
            Error::DuplicateVersion { version, .. } => {
                format!("release `{version}` is defined twice")
            }
            Error::ContractWithoutOf { name, .. } => {
                format!("contract `{name}` does not say which expand it finishes")
            }
            Error::OfOnNonContract { phase, .. } => {
                let article = if phase.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                };
                format!("`of` on {article} {phase} migration")
            }
            Error::MissingSetting { item, setting, .. } => {
                format!("{item} has no `{setting}`")
            }
            Error::RepeatedSetting { setting, .. } => format!("`{setting}` is set twice"),
            Error::AfterOtherRelease { target, .. } => {
                format!("`after {target}` crosses releases")
            }
            Error::DownAndIrreversible { .. } => {
                "migration has a `down` and is marked irreversible".into()
            }
            Error::Unbatchable { .. } => "this migration cannot run in batches".into(),
            Error::BackupWithoutRestore { .. } => "a `run` backup without `restore`".into(),
            Error::ReleaseOutOfOrder {
                version, previous, ..
            } => format!("release `{version}` is listed after the newer `{previous}`"),
            Error::GateWithoutStep { place, .. } => {
                format!("the approval follows `{place}`, which the release does not have")
            }
            Error::ClusterValueKind {
                setting, expected, ..
            } => format!("`{setting}` takes {expected}"),
            Error::InvalidKubernetesName { setting, name, .. } => {
                format!("`{name}` is not a valid Kubernetes name for `{setting}`")
            }
            Error::ImageWithoutVersion { .. } => "the image does not name `{version}`".into(),
            Error::WeightNotExpressible {
                weight,
                replicas,
                environment,
                ..
            } => format!(
                "a {} step cannot be expressed with {replicas} replicas in environment `{environment}`",
                crate::lower::format::fmt_percent(*weight)
            ),
            Error::StrategyNotSupported {
                strategy,
                provider,
                environment,
                ..
            } => format!(
                "the `{provider}` provider of environment `{environment}` cannot run a `{strategy}` strategy"
            ),
            Error::ClusterSettingNeeded {
                setting,
                provider,
                environment,
                ..
            } => format!(
                "the `{provider}` provider of environment `{environment}` needs `{setting}` for this strategy"
            ),
        }
    }
}
