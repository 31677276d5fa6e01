{{/* Names and labels. */}}
{{- define "smime.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "smime.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "smime.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "smime.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "smime.selector" -}}
app.kubernetes.io/name: {{ include "smime.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "smime.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "smime.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "smime.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
Settings every process gets: the ConfigMap, the env Secret, and the paths of the mounted secret
files. DATA_DIR is an emptyDir: the provider keeps nothing there that another pod needs (escrow
and register are in PostgreSQL; the key pool refills; step-ca's ledger is per pod by design).
*/}}
{{- define "smime.envFrom" -}}
- configMapRef:
    name: {{ include "smime.fullname" . }}
- secretRef:
    name: {{ required "secrets.env: the name of the Secret with SEALING_KEYS, CODEC_KEYS, ESCROW_DATABASE_URL, …" .Values.secrets.env }}
{{- end -}}

{{- define "smime.fileEnv" -}}
- name: DATA_DIR
  value: /var/lib/smime-escrow-provider
{{- if .Values.secrets.temporalTls }}
- name: TEMPORAL_TLS_CLIENT_CERT
  value: /etc/smime-escrow-provider/temporal/tls.crt
- name: TEMPORAL_TLS_CLIENT_KEY
  value: /etc/smime-escrow-provider/temporal/tls.key
- name: TEMPORAL_TLS_SERVER_CA
  value: /etc/smime-escrow-provider/temporal/ca.crt
{{- end }}
{{- if .Values.secrets.cegClient }}
- name: CEG_CLIENT_CERT
  value: /etc/smime-escrow-provider/ceg/tls.crt
- name: CEG_CLIENT_KEY
  value: /etc/smime-escrow-provider/ceg/tls.key
- name: CEG_CA_FILE
  value: /etc/smime-escrow-provider/ceg/ca.crt
{{- if .Values.secrets.cegRecipientCert }}
- name: CEG_RECIPIENT_CERT
  value: /etc/smime-escrow-provider/ceg/recipient.crt
{{- end }}
{{- end }}
{{- if .Values.secrets.caCredentials }}
- name: STEP_CA_PROVISIONER_KEY_FILE
  value: /etc/smime-escrow-provider/ca/provisioner-key.json
- name: CA_ROOT_FILE
  value: /etc/smime-escrow-provider/ca/root.crt
{{- end }}
{{- end -}}

{{- define "smime.fileVolumes" -}}
- name: data
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- range $name, $secret := dict "temporal" .Values.secrets.temporalTls "ceg" .Values.secrets.cegClient "ca" .Values.secrets.caCredentials }}
{{- if $secret }}
- name: {{ $name }}
  secret:
    secretName: {{ $secret }}
    defaultMode: 0440
{{- end }}
{{- end }}
{{- end -}}

{{- define "smime.fileMounts" -}}
- name: data
  mountPath: /var/lib/smime-escrow-provider
- name: tmp
  mountPath: /tmp
{{- range $name, $secret := dict "temporal" .Values.secrets.temporalTls "ceg" .Values.secrets.cegClient "ca" .Values.secrets.caCredentials }}
{{- if $secret }}
- name: {{ $name }}
  mountPath: /etc/smime-escrow-provider/{{ $name }}
  readOnly: true
{{- end }}
{{- end }}
{{- end -}}

{{/* Extra env from a map (worker.env / api.env), sorted so renders are stable. */}}
{{- define "smime.envMap" -}}
{{- range $key := keys . | sortAlpha }}
- name: {{ $key }}
  value: {{ index $ $key | quote }}
{{- end }}
{{- end -}}
