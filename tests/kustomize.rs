//! A kustomization given to pulse-harden (`-p dir/`) writes the same objects as the real
//! `kubectl kustomize` (kustomize 5.7.1) run on a kustomization that lists the rendered chart
//! as its resource: one case per supported field, on real chart renders from the shared
//! corpus, compared object by object as data.

mod common;

use common::helm_home::{temp_dir, tool};
use pulse_harden::stream;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn corpus(chart: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus")
        .join(format!("{chart}.yaml"));
    let path = if path.is_file() {
        path
    } else {
        Path::new("/work/shared/corpus").join(format!("{chart}.yaml"))
    };
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Objects by apiVersion, kind, namespace and name.
fn objects(yaml: &[u8]) -> BTreeMap<String, Value> {
    let mut s = stream::read(yaml).expect("a readable stream");
    let mut out = BTreeMap::new();
    for m in &mut s.manifests {
        m.read_fully().unwrap();
        let Some(v) = m.value.clone() else { continue };
        if v.is_null() {
            continue;
        }
        let id = format!(
            "{} {} {}/{}",
            m.api_version(),
            m.kind(),
            m.namespace(),
            m.name()
        );
        out.insert(id, v);
    }
    out
}

/// Runs kubectl kustomize and pulse-harden on `chart` with this kustomization (and extra
/// files), and checks they write the same objects; returns pulse-harden's output.
fn same_as_kustomize(
    case: &str,
    chart: &str,
    kustomization: &str,
    files: &[(&str, &str)],
) -> Vec<u8> {
    let dir = temp_dir(&format!("kustomize-{case}"));
    let input = corpus(chart);
    std::fs::write(dir.join("all.yaml"), &input).unwrap();
    std::fs::write(dir.join("kustomization.yaml"), kustomization).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let kustomized = Command::new(tool("kubectl"))
        .args(["kustomize"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        kustomized.status.success(),
        "kubectl kustomize failed: {}",
        String::from_utf8_lossy(&kustomized.stderr)
    );
    let run = common::feed(common::pulse_harden().arg("-p").arg(&dir), &input);
    assert_eq!(run.code, 0, "pulse-harden failed: {}", run.stderr);
    let (want, got) = (objects(&kustomized.stdout), objects(&run.stdout));
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        got.keys().collect::<Vec<_>>(),
        "the same objects"
    );
    let mut changed = 0;
    let before = objects(&input);
    for (id, w) in &want {
        if let Some(diff) = first_difference(&got[id], w, String::new()) {
            panic!("{case}: {id} differs from kubectl kustomize at {diff}");
        }
        if before.get(id) != Some(w) {
            changed += 1;
        }
    }
    assert!(changed > 0, "{case}: the case changes nothing");
    run.stdout
}

#[test]
fn patches_strategic_merge_on_containers_env_and_volumes() {
    same_as_kustomize(
        "smp",
        "grafana-persistence",
        r#"resources: [all.yaml]
patches:
  - patch: |
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: grafana
        namespace: grafana
      spec:
        template:
          spec:
            initContainers:
              - name: init-chown-data
                $patch: delete
            containers:
              - name: grafana
                env:
                  - name: GF_PATHS_DATA
                    $patch: delete
                  - name: GF_LOG_MODE
                    value: console
                  - name: POD_IP
                    valueFrom: {fieldRef: {fieldPath: status.hostIP}}
                volumeMounts:
                  - mountPath: /var/lib/grafana-search
                    $patch: delete
                  - name: cache
                    mountPath: /cache
                resources:
                  limits: {memory: 512Mi}
              - name: sidecar
                image: busybox:1.36
                args: [sleep, infinity]
            volumes:
              - name: search
                $patch: delete
              - name: cache
                emptyDir: {medium: Memory}
            securityContext:
              $patch: replace
              runAsNonRoot: true
"#,
        &[],
    );
}

#[test]
fn patches_json6902_with_selector_targets_and_files() {
    same_as_kustomize(
        "json6902",
        "prometheus",
        r#"resources: [all.yaml]
patches:
  - target: {kind: Deployment, name: "prometheus-.*", labelSelector: "app.kubernetes.io/name notin (kube-state-metrics)"}
    patch: |
      - op: add
        path: /spec/template/spec/priorityClassName
        value: system-cluster-critical
      - {op: replace, path: /spec/replicas, value: 2}
  - target: {group: "", version: v1, kind: Service, annotationSelector: "prometheus.io/probe"}
    path: probe.yaml
  - target: {kind: "Deployment|StatefulSet", namespace: prometheus}
    patch: '[{"op": "add", "path": "/metadata/annotations", "value": {"team": "obs"}}]'
  - target: {kind: DaemonSet}
    path: ds.yaml
"#,
        &[
            (
                "probe.yaml",
                "- {op: add, path: /metadata/labels/probed, value: \"yes\"}\n",
            ),
            (
                "ds.yaml",
                "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ignored}\nspec:\n  template:\n    spec:\n      tolerations: [{operator: Exists}]\n",
            ),
        ],
    );
}

#[test]
fn images_transformer() {
    same_as_kustomize(
        "images",
        "postgresql-backup",
        r#"resources: [all.yaml]
images:
  - name: docker.io/bitnami/postgresql
    newName: registry.internal/postgresql
    newTag: "17.7.0"
  - name: docker.io/bitnami/os-shell
    digest: sha256:5acba83a746c7608ed544dc1533b87c737a0b0fb730301639a0179f9344b1678
"#,
        &[],
    );
    same_as_kustomize(
        "images-digest",
        "ingress-nginx",
        r#"resources: [all.yaml]
images:
  - name: registry.k8s.io/ingress-nginx/controller
    newTag: v1.15.2
  - name: registry.k8s.io/ingress-nginx/kube-webhook-certgen
    newName: mirror.internal/certgen
"#,
        &[],
    );
}

#[test]
fn labels_common_labels_and_common_annotations() {
    same_as_kustomize(
        "labels",
        "prometheus",
        r#"resources: [all.yaml]
commonLabels:
  team: observability
commonAnnotations:
  owner: platform@example.com
labels:
  - pairs: {tier: monitoring}
    includeSelectors: false
    includeTemplates: true
  - pairs: {cost-centre: "4711"}
"#,
        &[],
    );
    same_as_kustomize(
        "labels-selectors",
        "postgresql-backup",
        r#"resources: [all.yaml]
labels:
  - pairs: {app.example.com/part-of: db}
    includeSelectors: true
"#,
        &[],
    );
}

#[test]
fn deprecated_patches_strategic_merge_and_json6902() {
    same_as_kustomize(
        "deprecated",
        "nginx",
        r#"resources: [all.yaml]
patchesStrategicMerge:
  - deployment.yaml
  - |-
    apiVersion: v1
    kind: Service
    metadata:
      name: nginx
      namespace: nginx
    spec:
      ports:
        - name: http
          port: 8080
          targetPort: http
patchesJson6902:
  - target: {group: apps, version: v1, kind: Deployment, name: nginx}
    path: json.yaml
"#,
        &[
            (
                "deployment.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nginx\n  namespace: nginx\nspec:\n  template:\n    spec:\n      containers:\n        - name: nginx\n          ports:\n            - {name: metrics, containerPort: 9113}\n          env:\n            - {name: BITNAMI_DEBUG, value: \"true\"}\n",
            ),
            (
                "json.yaml",
                "- {op: remove, path: /spec/template/spec/initContainers}\n",
            ),
        ],
    );
}

/// Where two values first differ (map key order aside), for a readable failure.
fn first_difference(got: &Value, want: &Value, at: String) -> Option<String> {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            // Each key once: visiting shared keys from both sides would double the work at
            // every level.
            for key in g.keys().chain(w.keys().filter(|k| !g.contains_key(*k))) {
                let path = format!("{at}/{key}");
                match (g.get(key), w.get(key)) {
                    (Some(a), Some(b)) => {
                        if let Some(d) = first_difference(a, b, path) {
                            return Some(d);
                        }
                    }
                    (a, b) => return Some(format!("{path}: pulse-harden {a:?}, kustomize {b:?}")),
                }
            }
            None
        }
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => g
            .iter()
            .zip(w)
            .enumerate()
            .find_map(|(i, (a, b))| first_difference(a, b, format!("{at}/{i}"))),
        (a, b) if a == b => None,
        (a, b) => Some(format!("{at}: pulse-harden {a}, kustomize {b}")),
    }
}

/// The checked-in merge-key table is what scripts/gen-merge-keys.py makes from the schemas
/// `make tools` installs: regenerate it rather than edit it.
#[test]
fn the_merge_key_table_is_generated_from_the_kubernetes_schemas() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(root.join("scripts/gen-merge-keys.py"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "gen-merge-keys.py failed (run `make tools`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let checked_in =
        std::fs::read_to_string(root.join("src/transforms/strategic_merge_keys.tsv")).unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout) == checked_in,
        "src/transforms/strategic_merge_keys.tsv is stale: run scripts/gen-merge-keys.py > src/transforms/strategic_merge_keys.tsv"
    );
}

const SMALL: &str = "---\n# Source: web/templates/deployment.yaml\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx:1.27   # pinned\n          env:\n            - {name: A, value: \"1\"}\n---\n# Source: web/templates/service.yaml\napiVersion: v1\nkind: Service\nmetadata:\n  name: web   # untouched\nspec:\n  ports: [{port: 80}]\n";

fn run_with(case: &str, kustomization: &str, args: &[&str]) -> common::Run {
    let dir = temp_dir(&format!("kustomize-cli-{case}"));
    std::fs::write(dir.join("kustomization.yaml"), kustomization).unwrap();
    let mut cmd = common::pulse_harden();
    cmd.arg("-p").arg(&dir).args(args);
    common::feed(&mut cmd, SMALL.as_bytes())
}

#[test]
fn the_report_names_each_kustomization_entry_and_says_resources_are_not_read() {
    let run = run_with(
        "report",
        "resources: [all.yaml]\npatches:\n  - patch: |\n      apiVersion: apps/v1\n      kind: Deployment\n      metadata: {name: web}\n      spec:\n        template:\n          spec:\n            containers:\n              - name: web\n                env: [{name: B, value: \"2\"}]\nimages:\n  - {name: nginx, newTag: \"1.28\"}\n",
        &["--report", "-"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    for line in [
        "kustomization.yaml: patches[0]",
        // kustomize puts the patch's new elements first; the report shows a list whose
        // elements moved as one change, with its true before and after.
        "/spec/template/spec/containers/0/env: [{\"name\":\"A\",\"value\":\"1\"}] → [{\"name\":\"B\",\"value\":\"2\"},{\"name\":\"A\",\"value\":\"1\"}]",
        "kustomization.yaml: images",
        "/spec/template/spec/containers/0/image: \"nginx:1.27\" → \"nginx:1.28\"",
        "Notes:\n",
        "kustomization.yaml: `resources` is not read; the stream on stdin is the resource",
    ] {
        assert!(
            run.stderr.contains(line),
            "missing {line:?} in:\n{}",
            run.stderr
        );
    }
    // The Service no entry changed is written byte for byte, comment and all.
    let out = String::from_utf8(run.stdout).unwrap();
    let service = &SMALL[SMALL
        .rfind("---\n# Source: web/templates/service.yaml")
        .unwrap()..];
    assert!(out.ends_with(service), "{out}");
}

#[test]
fn kustomization_errors_point_at_file_line_and_column() {
    let run = run_with(
        "unsupported",
        "resources: [all.yaml]\nnamePrefix: x-\n",
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("kustomization.yaml:2:1: `namePrefix` is not supported: pulse-harden applies patches, patchesStrategicMerge, patchesJson6902, images, labels, commonLabels, commonAnnotations to the rendered stream; do `namePrefix` in the chart or its values instead"),
        "{}",
        run.stderr
    );
    let run = run_with(
        "bad-patch",
        "patches:\n  - target: {kind: Deployment}\n    path: missing.yaml\n",
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("kustomization.yaml:2:5: cannot read patch file "),
        "{}",
        run.stderr
    );
    let run = run_with(
        "bad-target",
        "patches:\n  - target: {kind: \"Deploy(ment\"}\n    patch: '[]'\n",
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("kustomization.yaml:2:5: invalid regular expression `Deploy(ment`"),
        "{}",
        run.stderr
    );
}

#[test]
fn patch_files_of_a_kustomization_stay_inside_the_patch_root() {
    let dir = temp_dir("kustomize-cli-root");
    std::fs::create_dir_all(dir.join("root/k")).unwrap();
    std::fs::write(dir.join("outside.yaml"), "- {op: remove, path: /spec}\n").unwrap();
    std::fs::write(
        dir.join("root/k/kustomization.yaml"),
        "patches:\n  - target: {kind: Service}\n    path: ../../outside.yaml\n",
    )
    .unwrap();
    let mut cmd = common::pulse_harden();
    cmd.arg("--patch-root")
        .arg(dir.join("root"))
        .args(["-p", "k"]);
    let run = common::feed(&mut cmd, SMALL.as_bytes());
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("outside the patch root"),
        "{}",
        run.stderr
    );
    // Without a patch root, kustomize's own rule holds: files in the kustomization's tree.
    let mut cmd = common::pulse_harden();
    cmd.arg("-p").arg(dir.join("root/k"));
    let run = common::feed(&mut cmd, SMALL.as_bytes());
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("../../outside.yaml is outside the kustomization's directory; kustomize's load restrictions forbid that too"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_kustomization_file_by_any_of_its_names_and_what_differs_from_kustomize() {
    let smp = "patches:\n  - patch: |\n      apiVersion: v1\n      kind: Service\n      metadata: {name: web}\n      spec: {type: NodePort}\n";
    for name in ["kustomization.yaml", "kustomization.yml", "Kustomization"] {
        let dir = temp_dir("kustomize-cli-names");
        std::fs::write(dir.join(name), smp).unwrap();
        for path in [dir.clone(), dir.join(name)] {
            let mut cmd = common::pulse_harden();
            cmd.arg("-p").arg(&path);
            let run = common::feed(&mut cmd, SMALL.as_bytes());
            assert_eq!(run.code, 0, "{name}: {}", run.stderr);
            assert!(
                String::from_utf8_lossy(&run.stdout).contains("type: NodePort"),
                "{name}"
            );
        }
    }
    // Like kustomize, an empty `metadata.annotations` goes, and the report says which step.
    let dir = temp_dir("kustomize-cli-annotations");
    std::fs::write(dir.join("kustomization.yaml"), "resources: [all.yaml]\n").unwrap();
    let mut cmd = common::pulse_harden();
    cmd.arg("-p").arg(&dir).args(["--report", "-"]);
    let run = common::feed(
        &mut cmd,
        b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  annotations:\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b   # kept\n  annotations: {x: y}\n",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b   # kept\n  annotations: {x: y}\n"
    );
    assert!(
        run.stderr.contains("kustomization.yaml: kustomize drops empty annotations\n                 /metadata/annotations: null → absent"),
        "{}",
        run.stderr
    );
    // kyaml drops the empty values (`key:`) of a resource it merges into and keeps written
    // nulls; both read as null, so pulse-harden tells them apart by the document's text.
    let dir = temp_dir("kustomize-cli-nulls");
    std::fs::write(
        dir.join("kustomization.yaml"),
        "patches:\n  - patch: |\n      apiVersion: v1\n      kind: Service\n      metadata: {name: web}\n      spec: {type: NodePort}\n",
    )
    .unwrap();
    let mut cmd = common::pulse_harden();
    cmd.arg("-p").arg(&dir);
    let run = common::feed(
        &mut cmd,
        b"apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  clusterIP:\n  selector: null\n",
    );
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: null\n  type: NodePort\n"
    );
    // Removing a whole resource is refused; kustomize would drop it.
    let run = run_with(
        "delete",
        "patches:\n  - patch: |\n      apiVersion: v1\n      kind: Service\n      metadata: {name: web}\n      $patch: delete\n",
        &[],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("the patch deletes the whole target (`$patch: delete` at the top); pulse-harden does not remove documents"),
        "{}",
        run.stderr
    );
    // A patch for a resource the stream does not hold is reported, not an error.
    let run = run_with(
        "unmatched",
        "patches:\n  - patch: |\n      apiVersion: v1\n      kind: Service\n      metadata: {name: gone}\n      spec: {type: NodePort}\n",
        &["--report", "-"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("Steps that matched nothing:\n  ")
            && run.stderr.contains("kustomization.yaml: patches[0]\n"),
        "{}",
        run.stderr
    );
}

/// The examples in `explain` for the kustomize-flavoured actions are valid steps that do what
/// their docs say.
#[test]
fn the_explain_examples_run() {
    use pulse_harden::{explain, patchfile, pipeline};
    let example = |key: &str| -> patchfile::PatchSet {
        let docs = explain::explain(Some(key)).unwrap();
        let start = docs.find("```yaml\n").unwrap() + "```yaml\n".len();
        let end = start + docs[start..].find("```").unwrap();
        let steps: String = docs[start..end]
            .lines()
            .map(|l| format!("  {l}\n"))
            .collect();
        patchfile::parse(
            &format!("apiVersion: pulse-harden/v1\nkind: PatchSet\nsteps:\n{steps}"),
            key,
        )
        .unwrap_or_else(|e| panic!("{key}: {e:#}"))
    };
    let input = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          image: nginx:1.25\n          env: [{name: DEBUG, value: \"1\"}, {name: A, value: \"2\"}]\n        - name: legacy-sidecar\n          image: busybox\n";
    let sets = vec![
        example("strategicMergePatch"),
        example("setImages"),
        example("setEntries"),
    ];
    let mut s = stream::read(input.as_bytes()).unwrap();
    pipeline::run(&mut s.manifests, &sets).unwrap();
    let out = objects(&stream::write(&s).unwrap());
    let d = out.values().next().unwrap();
    assert_eq!(
        d["spec"]["template"]["spec"]["containers"],
        serde_json::json!([{"name": "web", "image": "registry.internal/nginx:1.27.3",
            "env": [{"name": "LOG_FORMAT", "value": "json"}, {"name": "A", "value": "2"}]}])
    );
    assert_eq!(d["metadata"]["labels"]["team"], "platform");
    assert_eq!(
        d["spec"]["template"]["metadata"]["labels"]["team"],
        "platform"
    );
}

#[test]
fn patch_labels_and_annotations_are_strings_as_kustomize_loads_them() {
    same_as_kustomize(
        "patch-metadata",
        "nginx",
        r#"resources: [all.yaml]
patches:
  - patch: |
      apiVersion: v1
      kind: Service
      metadata:
        name: nginx
        namespace: nginx
        labels: {helm.sh/chart: null, revision: 5}
        annotations: {enabled: true}
  - target: {kind: Deployment}
    patch: |
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: any
        labels: {app.kubernetes.io/version: null, replicas: 2}
"#,
        &[],
    );
}

/// One kustomization using every supported field, on every chart of the shared corpus.
#[test]
fn every_corpus_chart_agrees_with_kustomize() {
    let kustomization = r#"resources: [all.yaml]
patches:
  - target: {kind: Deployment|StatefulSet|DaemonSet}
    patch: |
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: any, annotations: {patched: "true"}}
      spec:
        template:
          spec:
            tolerations: [{key: dedicated, operator: Exists}]
            volumes:
              - {name: scratch, emptyDir: {}}
            imagePullSecrets:
              - name: regcred
  - target: {kind: Service}
    patch: |
      - {op: add, path: /metadata/labels/exposed, value: "yes"}
labels:
  - pairs: {tier: x}
    includeTemplates: true
commonLabels: {env: prod}
commonAnnotations: {owner: me}
images:
  - {name: quay.io/prometheus/prometheus, newTag: v9}
  - {name: docker.io/grafana/grafana, newName: mirror/grafana}
"#;
    for chart in [
        "argo-cd",
        "cert-manager",
        "descheduler",
        "elasticsearch",
        "fluent-bit",
        "grafana-persistence",
        "ingress-nginx",
        "nginx",
        "postgresql-backup",
        "prometheus",
    ] {
        same_as_kustomize(&format!("all-{chart}"), chart, kustomization, &[]);
    }
}
