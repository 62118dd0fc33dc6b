//! The Kubernetes example, `examples/kubernetes/wasmfed-shards.yaml`, checked without a cluster.
//!
//! Nothing here runs Kubernetes, so this checks what can go wrong short of one: each document is
//! a Kubernetes object; the names that tie the objects together agree (a Service or volume
//! named wrong is a pod that never starts); the init container's own command, run with `sh` as
//! the pod would run it, renders each pod's configuration; wasmfed's configuration loader takes
//! every rendered file, with the shard, modulus and remote write the example promises; the
//! `wasmfed` binary, given the container's flags, accepts them and `check config` passes; and
//! the stock `hashmod-shard` plugin under the rendered configurations gives every target to
//! exactly one shard.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Deserialize;
use serde_yaml::Value;
use wasmfed_config::{Config, PluginSource};
use wasmfed_model::compat::Compat;
use wasmfed_model::Labels;
use wasmfed_plugin::{stock, PluginLimits, PluginRuntime, World};

const MANIFEST: &str = "examples/kubernetes/wasmfed-shards.yaml";
const NAMESPACE: &str = "monitoring";
const VICTORIAMETRICS: &str =
    "http://vminsert.monitoring.svc:8480/insert/0/prometheus/api/v1/write";

/// The manifest's documents, in order.
fn documents() -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(MANIFEST);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_yaml::Deserializer::from_str(&text)
        .enumerate()
        .map(|(i, doc)| {
            Value::deserialize(doc).unwrap_or_else(|e| panic!("{MANIFEST}, document {i}: {e}"))
        })
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{MANIFEST} has no {kind} {name:?}"))
}

fn only<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let mut of_kind = docs.iter().filter(|d| d["kind"] == kind);
    let first = of_kind.next();
    assert!(
        first.is_some() && of_kind.next().is_none(),
        "{MANIFEST} should hold one {kind}"
    );
    first.unwrap()
}

fn str_of<'a>(value: &'a Value, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} should be a string, is {value:?}"))
}

fn seq<'a>(value: &'a Value, what: &str) -> &'a [Value] {
    value
        .as_sequence()
        .unwrap_or_else(|| panic!("{what} should be a list, is {value:?}"))
}

/// Where `container` mounts the volume `volume`.
fn mount_path<'a>(container: &'a Value, volume: &str) -> &'a str {
    let mount = seq(&container["volumeMounts"], "volumeMounts")
        .iter()
        .find(|m| m["name"] == volume)
        .unwrap_or_else(|| panic!("{:?} does not mount {volume:?}", container["name"]));
    str_of(&mount["mountPath"], "mountPath")
}

/// Whether every label of `selector` is among `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    let selector = selector.as_mapping().expect("a selector is a mapping");
    !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

fn pod_spec(statefulset: &Value) -> &Value {
    &statefulset["spec"]["template"]["spec"]
}

fn container<'a>(statefulset: &'a Value, list: &str, name: &str) -> &'a Value {
    seq(&pod_spec(statefulset)[list], list)
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("the StatefulSet has no {list} entry {name:?}"))
}

/// The value of the flag `name` among a container's args (`--name=value`).
fn flag<'a>(args: &'a [String], name: &str) -> &'a str {
    let prefix = format!("--{name}=");
    args.iter()
        .find_map(|a| a.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("the wasmfed container has no --{name}"))
}

fn strings(value: &Value, what: &str) -> Vec<String> {
    seq(value, what)
        .iter()
        .map(|v| str_of(v, what).to_owned())
        .collect()
}

#[test]
fn every_document_is_a_kubernetes_object_in_one_namespace() {
    let docs = documents();
    assert_eq!(docs.len(), 4, "ConfigMap, two Services, StatefulSet");
    for (i, doc) in docs.iter().enumerate() {
        for key in ["apiVersion", "kind"] {
            assert!(
                doc[key].as_str().is_some_and(|s| !s.is_empty()),
                "document {i} has no {key}"
            );
        }
        assert!(
            doc["metadata"]["name"]
                .as_str()
                .is_some_and(|s| !s.is_empty()),
            "document {i} has no metadata.name"
        );
        assert_eq!(doc["metadata"]["namespace"], NAMESPACE, "document {i}");
    }
    let kinds: Vec<_> = docs.iter().map(|d| str_of(&d["kind"], "kind")).collect();
    assert_eq!(kinds, ["ConfigMap", "Service", "Service", "StatefulSet"]);
    assert_eq!(only(&docs, "StatefulSet")["apiVersion"], "apps/v1");
}

#[test]
fn the_objects_name_one_another_correctly() {
    let docs = documents();
    let set = only(&docs, "StatefulSet");
    let pod_labels = &set["spec"]["template"]["metadata"]["labels"];
    assert!(selects(&set["spec"]["selector"]["matchLabels"], pod_labels));

    let service = find(
        &docs,
        "Service",
        str_of(&set["spec"]["serviceName"], "serviceName"),
    );
    assert_eq!(service["spec"]["clusterIP"], "None", "headless");
    assert!(selects(&service["spec"]["selector"], pod_labels));

    // The targets' Service is headless too: DNS-SD's A lookup must give the pods, not one
    // cluster IP, and its port is the one the scrape job asks for.
    let exporters = find(&docs, "Service", "node-exporter");
    assert_eq!(exporters["spec"]["clusterIP"], "None");
    assert_eq!(exporters["spec"]["ports"][0]["port"], 9100);

    let volumes = seq(&pod_spec(set)["volumes"], "volumes");
    let claims = seq(&set["spec"]["volumeClaimTemplates"], "volumeClaimTemplates");
    let template = volumes
        .iter()
        .find(|v| v["name"] == "template")
        .expect("a template volume");
    find(
        &docs,
        "ConfigMap",
        str_of(&template["configMap"]["name"], "configMap.name"),
    );
    for list in ["initContainers", "containers"] {
        for c in seq(&pod_spec(set)[list], list) {
            for m in seq(&c["volumeMounts"], "volumeMounts") {
                let name = &m["name"];
                assert!(
                    volumes.iter().any(|v| v["name"] == *name)
                        || claims.iter().any(|v| v["metadata"]["name"] == *name),
                    "{:?} mounts {name:?}, which is neither a volume nor a claim",
                    c["name"]
                );
            }
        }
    }

    let wasmfed = container(set, "containers", "wasmfed");
    let port = &wasmfed["ports"][0];
    assert_eq!(port["containerPort"], 9090);
    assert_eq!(service["spec"]["ports"][0]["targetPort"], port["name"]);
    for (probe, path) in [
        ("livenessProbe", "/-/healthy"),
        ("readinessProbe", "/-/ready"),
    ] {
        assert_eq!(wasmfed[probe]["httpGet"]["path"], path, "{probe}");
        assert_eq!(wasmfed[probe]["httpGet"]["port"], port["name"], "{probe}");
    }
    let args = strings(&wasmfed["args"], "args");
    let data = mount_path(wasmfed, "data");
    for dir in ["storage.tsdb.path", "plugin.cache-dir"] {
        assert!(
            Path::new(flag(&args, dir)).starts_with(data),
            "--{dir} should be on the claimed volume {data}"
        );
    }
    let retention = flag(&args, "storage.tsdb.retention.time");
    retention
        .parse::<wasmfed_config::Duration>()
        .unwrap_or_else(|e| panic!("--storage.tsdb.retention.time={retention}: {e}"));
    let size = flag(&args, "storage.tsdb.retention.size");
    wasmfed_config::parse_base2_bytes(size)
        .unwrap_or_else(|e| panic!("--storage.tsdb.retention.size={size}: {e}"));
}

/// One pod's configuration directory as the init container leaves it.
struct Rendered {
    _dir: tempfile::TempDir,
    /// The `--config.file` of the wasmfed container, under the rendered directory.
    config_file: PathBuf,
}

/// Runs the init container's command line as written, in the environment its `env` gives the
/// pod `pod`, each mounted directory it is told about standing in a temporary one: the
/// template directory holds the ConfigMap's keys as files, as Kubernetes mounts them.
fn run_init(docs: &[Value], pod: &str, dir: &Path) -> std::process::Output {
    let init = container(only(docs, "StatefulSet"), "initContainers", "render-config");
    let mounts = [
        ("TEMPLATE_DIR", "template", dir.join("template")),
        ("CONFIG_DIR", "config", dir.join("config")),
    ];
    let mut env = BTreeMap::new();
    for e in seq(&init["env"], "env") {
        let name = str_of(&e["name"], "env name");
        let value = match mounts.iter().find(|(var, ..)| *var == name) {
            Some((_, volume, here)) => {
                assert_eq!(e["value"], mount_path(init, volume), "{name}");
                here.display().to_string()
            }
            None if e["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name" => pod.to_owned(),
            None => str_of(&e["value"], name).to_owned(),
        };
        env.insert(name.to_owned(), value);
    }
    for (var, ..) in &mounts {
        assert!(
            env.contains_key(*var),
            "the init container is not given {var}"
        );
    }
    let map = find(docs, "ConfigMap", "wasmfed-shards");
    for (_, _, here) in &mounts {
        std::fs::create_dir_all(here).unwrap();
    }
    for (key, text) in map["data"].as_mapping().expect("ConfigMap data") {
        std::fs::write(
            mounts[0].2.join(str_of(key, "a data key")),
            str_of(text, "a data value"),
        )
        .unwrap();
    }
    let command = [
        strings(&init["command"], "command"),
        strings(&init["args"], "args"),
    ]
    .concat();
    Command::new(&command[0])
        .args(&command[1..])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(&env)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", command[0]))
}

/// The configuration the init container renders for the pod `pod`.
fn render(docs: &[Value], pod: &str) -> Rendered {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let out = run_init(docs, pod, dir.path());
    assert!(
        out.status.success(),
        "the init container failed for {pod}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wasmfed = container(only(docs, "StatefulSet"), "containers", "wasmfed");
    let args = strings(&wasmfed["args"], "args");
    let inside = Path::new(flag(&args, "config.file"))
        .strip_prefix(mount_path(wasmfed, "config"))
        .expect("--config.file is on the rendered volume");
    Rendered {
        config_file: dir.path().join("config").join(inside),
        _dir: dir,
    }
}

#[test]
fn a_pod_name_without_an_ordinal_stops_the_init_container() {
    let docs = documents();
    for pod in ["wasmfed-shard", "wasmfed"] {
        let dir = tempfile::tempdir().unwrap();
        let out = run_init(&docs, pod, dir.path());
        assert!(!out.status.success(), "{pod}: no shard number, no start");
    }
}

#[test]
fn every_pod_renders_a_configuration_wasmfed_loads_with_its_own_shard() {
    let docs = documents();
    let set = only(&docs, "StatefulSet");
    let replicas = set["spec"]["replicas"]
        .as_u64()
        .expect("replicas is a number");
    let set_name = str_of(&set["metadata"]["name"], "name");
    let wasmfed = container(set, "containers", "wasmfed");
    assert_eq!(
        strings(&wasmfed["command"], "command"),
        ["wasmfed"],
        "the container runs the binary this test checks"
    );
    let args = strings(&wasmfed["args"], "args");

    let runtime = PluginRuntime::new().expect("a plugin runtime");
    let targets: Vec<Labels> = (0..300)
        .map(|i| {
            Labels::from_pairs([("__address__", format!("10.0.{}.{}:9100", i / 250, i % 250))])
        })
        .collect();
    let mut kept_by = vec![Vec::new(); targets.len()];

    for ordinal in 0..replicas {
        // Pods of a StatefulSet are named <name>-<ordinal>, and that is their hostname.
        let pod = format!("{set_name}-{ordinal}");
        let rendered = render(&docs, &pod);
        let loaded = Config::load(&rendered.config_file, Compat::default())
            .unwrap_or_else(|e| panic!("{pod}: {e}"));
        assert!(loaded.warnings.is_empty(), "{pod}: {:?}", loaded.warnings);
        let config = &loaded.config;

        assert_eq!(
            config.global.external_labels.get("shard"),
            Some(ordinal.to_string().as_str()),
            "{pod}"
        );
        let urls: Vec<_> = config.remote_write.iter().map(|r| r.url.as_str()).collect();
        assert_eq!(urls, [VICTORIAMETRICS], "{pod}");

        let node = config
            .scrape_configs
            .iter()
            .find(|s| s.job_name == "node")
            .expect("a node job");
        assert_eq!(node.dns_sd_configs.len(), 1, "{pod}: targets from DNS-SD");
        let [shard] = node.target_plugins.as_slice() else {
            panic!("{pod}: the node job should have one target plugin");
        };
        assert_eq!(shard.source, PluginSource::Stock("hashmod-shard".into()));
        let shard_config: serde_json::Value = serde_json::from_str(&shard.config_json).unwrap();
        assert_eq!(
            shard_config,
            serde_json::json!({"modulus": replicas, "shard": ordinal}),
            "{pod}: the modulus is the StatefulSet's replicas"
        );

        // The binary the container runs, with the container's flags, then as `promtool check
        // config` would be run: unknown flags, rule files or PromQL fail here.
        let out = Command::new(env!("CARGO_BIN_EXE_wasmfed"))
            .args(&args)
            .args(["check", "config"])
            .arg(&rendered.config_file)
            .output()
            .expect("running wasmfed");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("SUCCESS: 2 scrape configs, 1 rule files"),
            "{pod}: wasmfed check config\n{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );

        let plugin = runtime
            .load(
                &pod,
                stock::component("hashmod-shard").unwrap(),
                World::Target,
                &shard.config_json,
                PluginLimits::default(),
            )
            .unwrap_or_else(|e| panic!("{pod}: hashmod-shard refuses its config: {e}"));
        let answers = plugin.process(&targets).expect("hashmod-shard answers");
        for (i, answer) in answers.iter().enumerate() {
            if answer.is_some() {
                kept_by[i].push(ordinal);
            }
        }
    }

    for (target, shards) in targets.iter().zip(&kept_by) {
        assert_eq!(shards.len(), 1, "{target} is scraped by shards {shards:?}");
    }
    for ordinal in 0..replicas {
        let share = kept_by.iter().filter(|s| s[0] == ordinal).count();
        assert!(share > 50, "shard {ordinal} keeps {share} of 300 targets");
    }
}
