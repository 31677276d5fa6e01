/**
 * The x509 template the step-ca JWK provisioner needs for this provider, in step-ca's template
 * language (Go text/template + sprig, producing x509util JSON). Put it in a file and reference it
 * from the provisioner in ca.json: `"options": {"x509": {"templateFile": "templates/smime.tpl"}}`.
 *
 * What it makes, whatever the CSR asks for:
 * - subject CN from the token's `sub` (the CSR's CN, else the email), SAN rfc822Name from the
 *   token's `sans` (the user's email; step-ca also checks the CSR carries no other email);
 * - EKU emailProtection only; not a CA;
 * - key usage by credential kind, from the token's `smime.kind`: signing → digitalSignature;
 *   encryption → keyEncipherment for RSA keys, keyAgreement for EC keys;
 * - the serial number from the token's `smime.serial`: the adapter derives it per submission so a
 *   certificate whose answer was lost can still be named (and revoked) afterwards.
 * A token without `smime` claims is refused, so the provisioner should be dedicated to this provider.
 */
export const SMIME_X509_TEMPLATE = `{{- $kind := dig "smime" "kind" "" .Token -}}
{{- $serial := dig "smime" "serial" "" .Token -}}
{{- if not (has $kind (list "signing" "encryption")) -}}
{{- fail "S/MIME provisioner: the token must carry smime.kind (signing or encryption)" -}}
{{- end -}}
{{- if not $serial -}}
{{- fail "S/MIME provisioner: the token must carry smime.serial" -}}
{{- end -}}
{
  "subject": {"commonName": {{ toJson .Subject.CommonName }}},
  "sans": {{ toJson .SANs }},
  "serialNumber": {{ toJson $serial }},
{{- if eq $kind "signing" }}
  "keyUsage": ["digitalSignature"],
{{- else if eq .Insecure.CR.PublicKeyAlgorithm.String "RSA" }}
  "keyUsage": ["keyEncipherment"],
{{- else }}
  "keyUsage": ["keyAgreement"],
{{- end }}
  "extKeyUsage": ["emailProtection"],
  "basicConstraints": {"isCA": false}
}
`;
