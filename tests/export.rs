//! `deployc export argo-rollouts`: the objects of every example that deploys with Argo
//! Rollouts are validated against the Argo CRDs' `openAPIV3Schema` (tightened so that an
//! unknown field is an error), parsed back from the YAML the command prints, and kept as
//! snapshots.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value, json};
use yaml_rust2::{Yaml, YamlLoader};

const SCHEMAS: &str = "tests/schemas/argo-rollouts";

/// The Prometheus URL of `tests/fixtures/export/everything.deploy` (`env SHOP_PROMETHEUS`).
const SHOP_PROMETHEUS: &str = "http://prometheus.shop:9090";

fn deployc(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deployc"));
    cmd.args(args)
        .env("NO_COLOR", "1")
        .env("SHOP_PROMETHEUS", SHOP_PROMETHEUS);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("export")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A YAML node as JSON (the subset Kubernetes objects use).
fn to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(s) => json!(s.parse::<f64>().unwrap()),
        Yaml::Integer(i) => json!(i),
        Yaml::String(s) => json!(s),
        Yaml::Boolean(b) => json!(b),
        Yaml::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Yaml::Hash(h) => {
            let mut m = Map::new();
            for (k, v) in h {
                let key = match k {
                    Yaml::String(s) => s.clone(),
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    other => panic!("unexpected key {other:?}"),
                };
                m.insert(key, to_json(v));
            }
            Value::Object(m)
        }
        Yaml::Null => Value::Null,
        other => panic!("unexpected YAML node {other:?}"),
    }
}

fn parse_stream(text: &str) -> Vec<Value> {
    YamlLoader::load_from_str(text)
        .unwrap()
        .iter()
        .map(to_json)
        .collect()
}

/// Adds `additionalProperties: false` wherever a schema names its `properties` and neither
/// keeps unknown fields (`x-kubernetes-preserve-unknown-fields`) nor says what other fields
/// may be: the CRDs accept unknown fields (the API server prunes them), which would hide a
/// misspelt field here.
fn tighten(schema: &mut Value) {
    match schema {
        Value::Object(m) => {
            let preserve = m
                .get("x-kubernetes-preserve-unknown-fields")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if m.contains_key("properties") && !preserve && !m.contains_key("additionalProperties")
            {
                m.insert("additionalProperties".into(), json!(false));
            }
            for v in m.values_mut() {
                tighten(v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(tighten),
        _ => {}
    }
}

/// The `openAPIV3Schema` of a CRD file, tightened or as written.
fn crd_schema(file: &str, tight: bool) -> Value {
    let text = std::fs::read_to_string(Path::new(SCHEMAS).join(file)).unwrap();
    let docs = parse_stream(&text);
    let mut schema = docs[0]["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone();
    assert!(schema.is_object(), "{file} has no openAPIV3Schema");
    if tight {
        tighten(&mut schema);
    }
    schema
}

struct Validators {
    rollout: jsonschema::Validator,
    analysis_template: jsonschema::Validator,
}

fn validators() -> &'static Validators {
    static V: std::sync::OnceLock<Validators> = std::sync::OnceLock::new();
    V.get_or_init(|| Validators {
        rollout: jsonschema::validator_for(&crd_schema("rollout-crd.yaml", true)).unwrap(),
        analysis_template: jsonschema::validator_for(&crd_schema(
            "analysis-template-crd.yaml",
            true,
        ))
        .unwrap(),
    })
}

/// Schema errors of one exported object (an empty list when it is valid).
fn schema_errors(object: &Value) -> Vec<String> {
    let v = validators();
    let validator = match object["kind"].as_str() {
        Some("Rollout") => &v.rollout,
        Some("AnalysisTemplate") => &v.analysis_template,
        // The Deployment is a server-side-apply configuration of a core object; the CI
        // script checks it with kubernetes-validate.
        Some("Deployment") => return Vec::new(),
        other => panic!("unexpected kind {other:?}"),
    };
    validator
        .iter_errors(object)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// (file, release, environment) for every example environment that uses `argo_rollouts` or
/// `kubernetes` (whose Deployment a Rollout can take over).
fn argo_examples() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut files: Vec<PathBuf> = ["examples", "tests/fixtures/export"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).unwrap().flatten())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "deploy"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        if !text.contains("argo_rollouts") && !text.contains("kubernetes {") {
            continue;
        }
        let mut envs = Vec::new();
        let mut releases = Vec::new();
        let mut current: Option<String> = None;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("environment ") {
                current = rest.split_whitespace().next().map(str::to_string);
            } else if line.starts_with('}') {
                current = None;
            } else if (line.contains("argo_rollouts") || line.contains("kubernetes {"))
                && let Some(env) = current.take()
            {
                envs.push(env);
            }
            if let Some(rest) = line.strip_prefix("release \"") {
                releases.push(rest.split('"').next().unwrap().to_string());
            }
        }
        for r in &releases {
            for e in &envs {
                out.push((file.to_string_lossy().into_owned(), r.clone(), e.clone()));
            }
        }
    }
    assert!(!out.is_empty(), "no example uses argo_rollouts");
    out
}

#[test]
fn a_misspelt_field_is_caught_by_the_tightened_schema() {
    let rollout = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Rollout",
        "metadata": { "name": "app" },
        "spec": {
            "workloadRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "app" },
            "strategy": { "canary": { "steps": [{ "setWieght": 10 }] } },
        },
    });
    // The CRD as written accepts it (an API server would prune the field silently)…
    let loose = jsonschema::validator_for(&crd_schema("rollout-crd.yaml", false)).unwrap();
    assert!(loose.is_valid(&rollout));
    // …the tightened one names it.
    let errors = schema_errors(&rollout);
    assert!(errors.iter().any(|e| e.contains("setWieght")), "{errors:?}");
    let template = json!({
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": { "name": "t" },
        "spec": { "metrics": [{
            "name": "m",
            "provider": { "prometheus": { "adress": "http://p:9090", "query": "1" } },
        }] },
    });
    let errors = schema_errors(&template);
    assert!(errors.iter().any(|e| e.contains("adress")), "{errors:?}");
    // A wrong type is caught too.
    let mut wrong = rollout.clone();
    wrong["spec"]["strategy"]["canary"]["steps"][0] = json!({ "setWeight": "ten" });
    assert!(!schema_errors(&wrong).is_empty());
}

#[test]
fn exported_objects_are_valid_argo_objects() {
    let cases = argo_examples()
        .into_iter()
        .flat_map(|c| [(c.clone(), false), (c, true)]);
    for ((file, release, env), pod_template) in cases {
        let mut args = vec![
            "export",
            "argo-rollouts",
            &file,
            "--release",
            &release,
            "--env",
            &env,
        ];
        if pod_template {
            args.push("--pod-template");
        }
        let (code, stdout, stderr) = deployc(&args, &[]);
        assert_eq!(code, 0, "{file} {release} {env}: {stderr}");
        let objects = parse_stream(&stdout);
        assert_eq!(
            objects.iter().any(|o| o["kind"] == "Deployment"),
            !pod_template,
            "a Deployment image exactly when the Rollout follows the Deployment"
        );
        assert!(
            objects.iter().any(|o| o["kind"] == "Rollout"),
            "{file} {release} {env}: no Rollout"
        );
        for o in &objects {
            let errors = schema_errors(o);
            assert!(
                errors.is_empty(),
                "{file} {release} {env}: {} {}: {errors:#?}",
                o["kind"],
                o["metadata"]["name"]
            );
        }
        // Every argument a template declares is passed where the Rollout uses it: a missing
        // argument stalls a Rollout at run time.
        let rollout = objects.iter().find(|o| o["kind"] == "Rollout").unwrap();
        let mut references = Vec::new();
        collect_references(rollout, &mut references);
        for (template, passed) in references {
            let t = objects
                .iter()
                .find(|o| o["kind"] == "AnalysisTemplate" && o["metadata"]["name"] == template)
                .unwrap_or_else(|| panic!("{file}: template {template} is not exported"));
            let declared: Vec<String> = t["spec"]["args"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|x| x["name"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(declared, passed, "{file}: arguments of {template}");
        }
    }
}

/// (template name, argument names passed) of every analysis reference in `v`.
fn collect_references(v: &Value, out: &mut Vec<(String, Vec<String>)>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(templates)) = m.get("templates") {
                let args: Vec<String> = m
                    .get("args")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .map(|x| x["name"].as_str().unwrap().to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                for t in templates {
                    out.push((
                        t["templateName"].as_str().unwrap().to_string(),
                        args.clone(),
                    ));
                }
            }
            m.values().for_each(|x| collect_references(x, out));
        }
        Value::Array(items) => items.iter().for_each(|x| collect_references(x, out)),
        _ => {}
    }
}

#[test]
fn the_yaml_reads_back_as_the_exported_objects() {
    // The plan as JSON, exported in-process, and the command's YAML parsed back must be the
    // same objects: the emitter loses or changes nothing.
    for (file, release, env) in argo_examples() {
        let (code, plan_json, stderr) = deployc(
            &[
                "plan",
                &file,
                "--release",
                &release,
                "--env",
                &env,
                "--format",
                "json",
            ],
            &[],
        );
        assert_eq!(code, 0, "{stderr}");
        let plan: deployc::lower::Plan = serde_json::from_str(&plan_json).unwrap();
        let export = deployc::export::argo::export(
            &plan,
            &|var| (var == "SHOP_PROMETHEUS").then(|| SHOP_PROMETHEUS.to_string()),
            Default::default(),
        );
        let (_, stdout, _) = deployc(
            &[
                "export",
                "argo-rollouts",
                &file,
                "--release",
                &release,
                "--env",
                &env,
            ],
            &[],
        );
        let expected: Vec<Value> = export.objects.iter().map(|(_, v)| v.clone()).collect();
        assert_eq!(parse_stream(&stdout), expected, "{file} {release} {env}");
    }
}

#[test]
fn snapshots_of_the_examples() {
    for (file, release, env) in argo_examples() {
        let (_, stdout, stderr) = deployc(
            &[
                "export",
                "argo-rollouts",
                &file,
                "--release",
                &release,
                "--env",
                &env,
            ],
            &[],
        );
        let name = Path::new(&file)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        insta::assert_snapshot!(
            format!("{name}@{release}@{env}"),
            format!("{stdout}\n# stderr\n{stderr}")
        );
    }
}

#[test]
fn output_directory_gets_one_file_per_object() {
    let dir = scratch("files");
    let (code, _, stderr) = deployc(
        &[
            "export",
            "argo-rollouts",
            "examples/storefront-argo.deploy",
            "--release",
            "3.4.0",
            "--env",
            "production",
            "-o",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "analysistemplate-storefront-rollback.yaml",
            "analysistemplate-storefront-step-1.yaml",
            "analysistemplate-storefront-step-2.yaml",
            "deployment.yaml",
            "rollout.yaml",
        ]
    );
    let rollout = parse_stream(&std::fs::read_to_string(dir.join("rollout.yaml")).unwrap());
    assert_eq!(rollout.len(), 1);
    assert!(schema_errors(&rollout[0]).is_empty());

    // The blue/green release into the same directory: the canary's step templates are not
    // part of it, and the export says so rather than leave them to be applied silently.
    let (code, _, stderr) = deployc(
        &[
            "export",
            "argo-rollouts",
            "examples/storefront-argo.deploy",
            "--release",
            "3.5.0",
            "--env",
            "production",
            "-o",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("analysistemplate-storefront-step-1.yaml` is not part of this export"),
        "{stderr}"
    );
    assert!(!stderr.contains("rollout.yaml` is not part"), "{stderr}");
}

/// A file whose production environment reads Prometheus from `env VAR`, and one that
/// deploys with another provider.
fn write_fixture(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string("examples/storefront-argo.deploy")
        .unwrap()
        .replace(
            "metrics = prometheus \"http://prometheus.monitoring:9090\"\n  window",
            "metrics = prometheus env STOREFRONT_PROMETHEUS\n  window",
        );
    assert!(text.contains("STOREFRONT_PROMETHEUS"));
    let path = dir.join("storefront.deploy");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn prometheus_from_the_environment_or_a_diagnostic_and_nothing_written() {
    let dir = scratch("env");
    let file = write_fixture(&dir);
    let out = dir.join("out");
    let args = [
        "export",
        "argo-rollouts",
        file.to_str().unwrap(),
        "--release",
        "3.4.0",
        "--env",
        "production",
        "-o",
        out.to_str().unwrap(),
    ];
    let (code, stdout, stderr) = deployc(&args, &[("STOREFRONT_PROMETHEUS", "")]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "error: the Prometheus URL is read from `env STOREFRONT_PROMETHEUS`, which is not set"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("nothing exported: 1 error"), "{stderr}");
    assert!(!out.exists(), "nothing may be written on an error");

    let (code, _, stderr) = deployc(
        &args,
        &[("STOREFRONT_PROMETHEUS", "http://prom.example:9090")],
    );
    assert_eq!(code, 0, "{stderr}");
    let template =
        std::fs::read_to_string(out.join("analysistemplate-storefront-step-1.yaml")).unwrap();
    assert!(
        template.contains("address: \"http://prom.example:9090\""),
        "{template}"
    );
}

#[test]
fn an_environment_without_a_cluster_is_an_error() {
    let (code, stdout, stderr) = deployc(
        &[
            "export",
            "argo-rollouts",
            "examples/checkout.deploy",
            "--release",
            "2.1.0",
            "--env",
            "staging",
        ],
        &[],
    );
    assert_eq!(code, 1);
    assert!(stdout.is_empty());
    assert!(
        stderr.contains(
            "error: environment `staging` deploys with neither the `argo_rollouts` nor the `kubernetes` provider"
        ),
        "{stderr}"
    );
}

#[test]
fn a_kubernetes_environment_exports_a_rollout_that_takes_its_deployment_over() {
    let (code, stdout, stderr) = deployc(
        &[
            "export",
            "argo-rollouts",
            "examples/checkout.deploy",
            "--release",
            "2.1.0",
            "--env",
            "production",
        ],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("the Rollout `checkout` takes its Deployment over"),
        "{stderr}"
    );
    assert!(stdout.contains("kind: Rollout"), "{stdout}");
    assert!(stdout.contains("kind: Deployment"), "{stdout}");
    // Without a route the kubernetes provider's Service selects both tracks: the Rollout must
    // not take it over as its stable Service, or the canary would get no traffic.
    assert!(!stdout.contains("stableService"), "{stdout}");
}

#[test]
fn source_errors_stop_the_export_like_plan() {
    let (code, stdout, stderr) = deployc(
        &[
            "export",
            "argo-rollouts",
            "tests/fixtures/check/err/E301-percent-vs-duration.deploy",
            "--release",
            "1.0.0",
            "--env",
            "production",
        ],
        &[],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("E301"), "{stderr}");
}

mod emitter {
    //! The YAML emitter reads back as the value it printed, for any JSON value.
    use super::parse_stream;
    use proptest::prelude::*;
    use serde_json::Value;

    fn scalar() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            // Finite floats with a fraction (whole floats print as integers in YAML and JSON
            // alike, which is the same number but not the same serde_json value).
            (-1.0e9f64..1.0e9)
                .prop_filter("a fraction", |f| f.fract() != 0.0)
                .prop_map(Value::from),
            any::<String>().prop_map(Value::String),
            prop::sample::select(vec![
                "on",
                "off",
                "yes",
                "no",
                "y",
                "n",
                "~",
                "null",
                "true",
                "1e3",
                "0x1f",
                ".inf",
                "- a",
                "a: b",
                "#c",
                "a #b",
                "[x]",
                "{x}",
                "*a",
                "&a",
                "!t",
                "|",
                ">",
                "'q'",
                "\"q\"",
                "%d",
                "@a",
                "`b`",
                "",
                " lead",
                "trail ",
                "a\nb",
                "tab\t",
                "ünï",
                "10m",
                "3.4.0",
                "registry.example.com/app:1.0",
            ])
            .prop_map(|s| Value::String(s.to_string())),
        ]
    }

    fn value() -> impl Strategy<Value = Value> {
        scalar().prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(any::<String>(), inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn reads_back(v in value()) {
            let text = deployc::export::yaml::stream(std::slice::from_ref(&v));
            let back = parse_stream(&text);
            prop_assert_eq!(back.len(), 1, "{}", text);
            prop_assert_eq!(&back[0], &v, "{}", text);
        }
    }
}

#[test]
fn a_rollout_without_replicas_is_a_warning() {
    let dir = scratch("replicas");
    let text = std::fs::read_to_string("examples/storefront-argo.deploy")
        .unwrap()
        .replace("    replicas        = 10\n", "");
    let file = dir.join("storefront.deploy");
    std::fs::write(&file, text).unwrap();
    let (code, stdout, stderr) = deployc(
        &[
            "export",
            "argo-rollouts",
            file.to_str().unwrap(),
            "--release",
            "3.4.0",
            "--env",
            "production",
        ],
        &[],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains("replicas:"), "{stdout}");
    assert!(
        stderr.contains("warning: the Rollout's replica count is not set"),
        "{stderr}"
    );
}
