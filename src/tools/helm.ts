import { ensureGoTool } from './go-tool';

/**
 * Helm, for `helm lint` and `helm template` of deploy/helm (the deployment tests). v3.19.5 builds
 * with `go install` (its go.mod has no replace directive). HELM_BIN points at an existing helm;
 * one on PATH is used as it is.
 */
export const HELM_MODULE = 'helm.sh/helm/v3/cmd/helm@v3.19.5';

export function ensureHelm(): Promise<string> {
  return ensureGoTool({ binary: 'helm', envVar: 'HELM_BIN', installTarget: HELM_MODULE, acceptFromPath: true, buildEnv: { CGO_ENABLED: '0' } });
}
