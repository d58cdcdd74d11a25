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

{{- define "ferrolb.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
