{{/*
Object names are fixed, not derived from the release name: the CRDs, the webhook
configuration and existing MetalLB installations refer to them (metallb-webhook-service,
metallb-webhook-cert, memberlist, metallb-excludel2), and the binary's defaults match.
*/}}

{{- define "ferrolb.checks" -}}
{{- if ne .Release.Namespace "metallb-system" -}}
{{- fail "install ferrolb in the namespace metallb-system: the CRDs' BGPPeer conversion webhook points at metallb-webhook-service in metallb-system" -}}
{{- end -}}
{{- if not (has .Values.controller.webhookMode (list "enabled" "disabled" "onlywebhook")) -}}
{{- fail "controller.webhookMode must be enabled, disabled or onlywebhook" -}}
{{- end -}}
{{- if and (not .Values.speaker.memberlist.enabled) .Values.speaker.nodeSelector -}}
{{- fail "speaker.nodeSelector must be empty when speaker.memberlist.enabled is false: without membership every Node counts as a live speaker, so every node needs one" -}}
{{- end -}}
{{- with .Values.tls.minVersion -}}
{{- if not (has . (list "VersionTLS12" "VersionTLS13")) -}}
{{- fail "tls.minVersion must be VersionTLS12 or VersionTLS13" -}}
{{- end -}}
{{- end -}}
{{- if and .Values.prometheus.rbacPrometheus (or .Values.prometheus.podMonitor.enabled .Values.prometheus.serviceMonitor.enabled) -}}
{{- if not (and .Values.prometheus.serviceAccount .Values.prometheus.namespace) -}}
{{- fail "prometheus.serviceAccount and prometheus.namespace name Prometheus's service account when prometheus.rbacPrometheus is true and a pod or service monitor is enabled" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "ferrolb.labels" -}}
app.kubernetes.io/name: ferrolb
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "ferrolb.metaLabels" -}}
{{ include "ferrolb.labels" . }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{/* The image of a workload: (dict "root" $ "image" .Values.controller.image). */}}
{{- define "ferrolb.image" -}}
{{ .image.repository }}:{{ .image.tag | default .root.Chart.AppVersion }}
{{- end -}}

{{/*
The service account of a component, as MetalLB's chart names it: ferrolb-<component> or
serviceAccount.name when the chart creates it, serviceAccount.name or default otherwise.
(dict "component" "controller" "account" .Values.controller.serviceAccount)
*/}}
{{- define "ferrolb.serviceAccountName" -}}
{{- if .account.create -}}
{{ .account.name | default (printf "ferrolb-%s" .component) }}
{{- else -}}
{{ .account.name | default "default" }}
{{- end -}}
{{- end -}}

{{/* The memberlist Secret: created by the controller, mounted by the speakers. */}}
{{- define "ferrolb.memberlistSecret" -}}
{{ .Values.speaker.secretName | default "memberlist" }}
{{- end -}}

{{/*
A liveness, readiness or startup probe from MetalLB's probe values:
(dict "probe" .Values.controller.livenessProbe "get" (dict ...httpGet...)).
*/}}
{{- define "ferrolb.probe" -}}
httpGet:
  {{- toYaml .get | nindent 2 }}
{{- range $field := list "initialDelaySeconds" "periodSeconds" "timeoutSeconds" "successThreshold" "failureThreshold" }}
{{- if hasKey $.probe $field }}
{{ $field }}: {{ index $.probe $field }}
{{- end }}
{{- end }}
{{- end -}}

{{/* The TLS flags both workloads take. */}}
{{- define "ferrolb.tlsArgs" -}}
{{- with .Values.tls.minVersion }}
- --tls-min-version={{ . }}
{{- end }}
{{- with .Values.tls.cipherSuites }}
- --tls-cipher-suites={{ . }}
{{- end }}
{{- with .Values.tls.curvePreferences }}
- --tls-curve-preferences={{ . }}
{{- end }}
{{- end -}}

{{/* Prometheus's scrape annotations, when prometheus.scrapeAnnotations is on. */}}
{{- define "ferrolb.scrapeAnnotations" -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .Values.prometheus.metricsPort | quote }}
prometheus.io/scheme: https
{{- end -}}

{{/* The install notes (NOTES.txt). */}}
{{- define "ferrolb.notes" -}}
ferrolb {{ .Chart.AppVersion }} is installed in {{ .Release.Namespace }}.

Configure it with the same metallb.io objects as MetalLB (IPAddressPool, L2Advertisement,
BGPPeer, BGPAdvertisement, ...), then check that both roles accepted the configuration:

  kubectl get configurationstates -n {{ .Release.Namespace }}

Helm installs the CRDs of the chart's crds/ directory once and never upgrades them; before
upgrading the release, apply the new chart's CRDs:

  helm show crds <chart> | kubectl apply --server-side -f -
{{- $unused := list }}
{{- if or .Values.nameOverride .Values.fullnameOverride }}
{{- $unused = append $unused "nameOverride/fullnameOverride: the objects keep their fixed names (metallb-webhook-service, memberlist, controller, speaker, ...)" }}
{{- end }}
{{- if and .Values.speaker.frr .Values.speaker.frr.enabled }}
{{- $unused = append $unused "speaker.frr.enabled: the speaker speaks BGP itself; no FRR container runs beside it" }}
{{- end }}
{{- if and .Values.frrk8s .Values.frrk8s.enabled }}
{{- $unused = append $unused "frrk8s.enabled: the speaker speaks BGP itself; FRR-K8s is neither needed nor installed" }}
{{- end }}
{{- if not (kindIs "invalid" .Values.speaker.bgpDebounceTimeout) }}
{{- $unused = append $unused "speaker.bgpDebounceTimeout: BGP changes apply at once" }}
{{- end }}
{{- if not .Values.crds.enabled }}
{{- $unused = append $unused "crds.enabled=false: the CRDs come from the chart's crds/ directory; pass --skip-crds to leave them out" }}
{{- end }}
{{- if or .Values.tls.cipherSuites .Values.tls.curvePreferences }}
{{- $unused = append $unused "tls.cipherSuites/tls.curvePreferences: passed on, and ignored with a warning (rustls's defaults)" }}
{{- end }}
{{- if $unused }}

These values of MetalLB's chart do not apply to ferrolb and were not used:
{{- range $unused }}
  - {{ . }}
{{- end }}
{{- end }}
{{- end -}}
