/**
 * The x509 template the step-ca JWK provisioner needs for this provider, in step-ca's template
 * language (Go text/template + sprig, producing x509util JSON). Put it in a file and reference it
 * from the provisioner in ca.json: `"options": {"x509": {"templateFile": "templates/smime.tpl"}}`.
 *
 * What it makes, whatever the CSR asks for — a CA/B Forum S/MIME BR Mailbox-validated certificate:
 * - subject CN = the email address and SAN rfc822Name = the email, both from the token's `sans`
 *   (step-ca has checked the CSR asks for no other address). CN = the address is what the BR
 *   allow for a mailbox-validated certificate, and it passes a step-ca email policy; a
 *   display-name CN would be judged as a DNS name there and refused. (step-ca accepts the CSR's
 *   own CN because the token's `sub` is that CN; the template does not copy it.)
 * - certificatePolicies from the token's `smime.policies`: the first must be one of the two
 *   Mailbox-validated reserved OIDs (strict 2.23.140.1.5.1.3, multipurpose 2.23.140.1.5.1.2),
 *   then the organisation's own (CERT_PROFILE, CERT_POLICY_OIDS);
 * - cRLDistributionPoints from `smime.crl` (required, http:), AIA caIssuers from
 *   `smime.caIssuers` and OCSP from `smime.ocsp` when given (CERT_CRL_URL, CERT_CA_ISSUERS_URL,
 *   CERT_OCSP_URL);
 * - EKU emailProtection only; not a CA;
 * - key usage by credential kind, from the token's `smime.kind`: signing → digitalSignature;
 *   encryption → keyEncipherment for RSA keys, keyAgreement for EC keys;
 * - the serial number from the token's `smime.serial`: the adapter derives it per submission so a
 *   certificate whose answer was lost can still be named (and revoked) afterwards.
 * A token without these `smime` claims is refused, so the provisioner should be dedicated to
 * this provider. Give it `"claims": {"disableSmallstepExtensions": true}`: step-ca's own
 * provisioner extension is not one the S/MIME BR allow in a subscriber certificate.
 */
export const SMIME_X509_TEMPLATE = `{{- $kind := dig "smime" "kind" "" .Token -}}
{{- $serial := dig "smime" "serial" "" .Token -}}
{{- $policies := dig "smime" "policies" (list) .Token -}}
{{- $crl := dig "smime" "crl" "" .Token -}}
{{- $caIssuers := dig "smime" "caIssuers" "" .Token -}}
{{- $ocsp := dig "smime" "ocsp" "" .Token -}}
{{- if not (has $kind (list "signing" "encryption")) -}}
{{- fail "S/MIME provisioner: the token must carry smime.kind (signing or encryption)" -}}
{{- end -}}
{{- if not $serial -}}
{{- fail "S/MIME provisioner: the token must carry smime.serial" -}}
{{- end -}}
{{- if not $policies -}}
{{- fail "S/MIME provisioner: the token must carry smime.policies" -}}
{{- end -}}
{{- if not (has (first $policies) (list "2.23.140.1.5.1.3" "2.23.140.1.5.1.2")) -}}
{{- fail "S/MIME provisioner: the first of smime.policies must be a Mailbox-validated reserved policy (2.23.140.1.5.1.3 or 2.23.140.1.5.1.2)" -}}
{{- end -}}
{{- if not (hasPrefix "http://" $crl) -}}
{{- fail "S/MIME provisioner: the token must carry smime.crl, an http:// URL" -}}
{{- end -}}
{{- $email := "" -}}
{{- range .SANs }}{{ if and (eq .Type "email") (not $email) }}{{ $email = .Value }}{{ end }}{{ end -}}
{{- if not $email -}}
{{- fail "S/MIME provisioner: the token must carry the email address in sans" -}}
{{- end -}}
{
  "subject": {"commonName": {{ toJson $email }}},
  "sans": [{"type": "email", "value": {{ toJson $email }}}],
  "serialNumber": {{ toJson $serial }},
{{- if eq $kind "signing" }}
  "keyUsage": ["digitalSignature"],
{{- else if eq .Insecure.CR.PublicKeyAlgorithm.String "RSA" }}
  "keyUsage": ["keyEncipherment"],
{{- else }}
  "keyUsage": ["keyAgreement"],
{{- end }}
  "extKeyUsage": ["emailProtection"],
  "policyIdentifiers": {{ toJson $policies }},
  "crlDistributionPoints": {{ toJson (list $crl) }},
{{- if $caIssuers }}
  "issuingCertificateURL": {{ toJson (list $caIssuers) }},
{{- end }}
{{- if $ocsp }}
  "ocspServer": {{ toJson (list $ocsp) }},
{{- end }}
  "basicConstraints": {"isCA": false}
}
`;
