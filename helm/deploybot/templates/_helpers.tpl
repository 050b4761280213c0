{{- define "deploybot.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "deploybot.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "deploybot.labels" -}}
app.kubernetes.io/name: {{ include "deploybot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "deploybot.selectorLabels" -}}
app.kubernetes.io/name: {{ include "deploybot.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "deploybot.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "deploybot.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Secret with the Slack credentials: the user's, or the chart's own. */}}
{{- define "deploybot.secretName" -}}
{{- default (include "deploybot.fullname" .) .Values.slack.existingSecret -}}
{{- end -}}

{{/* The chart renders its own Secret when it has something to keep: Slack credentials and the button key
(without slack.existingSecret) or the database URL (database.url). */}}
{{- define "deploybot.chartSecret" -}}
{{- if or (not .Values.slack.existingSecret) .Values.database.url -}}true{{- end -}}
{{- end -}}

{{- define "deploybot.databaseEnabled" -}}
{{- if or .Values.database.url .Values.database.existingSecret -}}true{{- end -}}
{{- end -}}

{{/* `lookup` answers from the cluster only during install/upgrade; `helm lint`, `helm template` and client
dry runs get an empty map for everything. The `default` namespace exists in every cluster, so an empty
answer for it means "no cluster here": checks that need the cluster are skipped. */}}
{{- define "deploybot.clusterVisible" -}}
{{- if lookup "v1" "Namespace" "" "default" -}}true{{- end -}}
{{- end -}}

{{/* Rules from files/rbac-rules.yaml (the file the code and tests share), minus writes when readOnly. */}}
{{- define "deploybot.rules" -}}
{{- $root := index . 0 -}}
{{- $scope := index . 1 -}}
{{- $all := $root.Files.Get "files/rbac-rules.yaml" | fromYaml -}}
{{- range (index $all $scope) }}
{{- $rollouts := or (has "argoproj.io" .apiGroups) (has "rollouts.kruise.io" .apiGroups) }}
{{- if and (not (and $root.Values.rbac.readOnly .write)) (or $root.Values.rbac.rollouts (not $rollouts)) }}
- apiGroups: {{ toJson .apiGroups }}
  resources: {{ toJson .resources }}
  verbs: {{ toJson .verbs }}
{{- end }}
{{- end }}
{{- end -}}

{{- define "deploybot.namespaces" -}}
{{- $found := list -}}
{{- range $name, $env := .Values.environments -}}
{{- if not $env.kubeconfig -}}{{/* an own kubeconfig: another cluster, with its own credentials */}}
{{- $found = append $found $env.namespace -}}
{{- end -}}
{{- end -}}
{{- $chosen := .Values.rbac.namespaces | default $found -}}
{{- toJson (uniq $chosen) -}}
{{- end -}}
