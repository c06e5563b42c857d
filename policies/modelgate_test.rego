# opa test suite for the default policy: an allow case and deny cases for every rule.
package modelgate_test

import data.modelgate
import rego.v1

model_digest := "sha256:9f2c6b1e0d4a8c7b5e3f1a2d4c6b8e0f1a3c5e7b9d1f3a5c7e9b1d3f5a7c9e1b"

dataset_hex := "5d41402abc4b2a76b9719d911017c592aa5d41402abc4b2a76b9719d911017c5"

trainer_hex := "1111111111111111111111111111111111111111111111111111111111111111"

gha := "https://token.actions.githubusercontent.com"

workflow := "https://github.com/acme/train/.github/workflows/train.yml@refs/heads/main"

ci_signer := {
	"method": "keyless", "keyId": null, "san": workflow, "issuer": gha,
	"oidc": {"sourceRepositoryUri": "https://github.com/acme/train", "sourceRepositoryRef": "refs/heads/main"},
	"tlog": {"logIndex": 123, "integratedTime": "2026-08-01T14:05:00Z", "logId": "c0d23d6a"}, "timestamps": [],
}

release_key := {"method": "key", "keyId": "sha256:release", "san": null, "issuer": null, "oidc": {}, "tlog": null, "timestamps": []}

good_provenance := {
	"slsaVersion": "v1",
	"builderId": workflow,
	"buildType": "https://modelgate.dev/buildtypes/model-training/v1",
	"invocationId": "run-1",
	"source": {"repository": "https://github.com/acme/train", "ref": "refs/heads/main", "commit": "0123456789abcdef0123456789abcdef01234567"},
	"externalParameters": {"epochs": 3},
	"resolvedDependencies": [
		{"uri": "git+https://github.com/acme/train@refs/heads/main", "name": "source", "kind": "source", "repository": null, "digest": {"gitCommit": "0123456789abcdef0123456789abcdef01234567"}},
		{"uri": "s3://acme-data/imagenet", "name": "train", "kind": "dataset", "repository": null, "digest": {"sha256": dataset_hex}},
		{"uri": concat("", ["oci://ghcr.io/acme/trainer@sha256:", trainer_hex]), "name": "trainer", "kind": "container", "repository": "ghcr.io/acme/trainer", "digest": {"sha256": trainer_hex}},
	],
}

good_input := {
	"version": "modelgate.dev/policy-input/v1",
	"artifact": {
		"uri": concat("", ["oci://registry.acme.dev/models/llama@", model_digest]),
		"scheme": "oci",
		"verifiable": true,
		"reference": {"registry": "registry.acme.dev", "repository": "models/llama", "tag": null, "digest": model_digest},
		"digest": model_digest,
		"mediaType": "application/vnd.oci.image.manifest.v1+json",
		"artifactType": "application/vnd.cncf.model.manifest.v1+json",
		"annotations": {},
		"usage": {"namespace": "team-a", "resourceKind": "InferenceService", "resourceName": "llama", "fieldPath": "spec.predictor.model.storageUri"},
	},
	"signatures": [ci_signer],
	"attestations": [{"predicateType": "https://slsa.dev/provenance/v1", "signer": ci_signer, "provenance": good_provenance, "evaluation": null}],
	"modelSignatures": [],
	"context": {"time": "2026-09-01T12:00:00Z", "mode": "admission", "user": {"username": "alice", "uid": "1", "groups": ["team-a"]}, "operation": "CREATE"},
}

good_config := {
	"signers": {"threshold": 1, "keys": {"sha256:release": {"name": "release"}}, "identities": {gha: {workflow: {"name": "ci"}}}},
	"provenance": {"required": true, "builders": {workflow: {}}, "buildTypes": {}},
	"sources": {"repositories": {"https://github.com/acme/train": {}}},
	"datasets": {"s3://acme-data/imagenet": {"digests": {concat(":", ["sha256", dataset_hex]): {}}}},
	"containers": {"digests": {}, "repositories": {"ghcr.io/acme": {}}},
	"revoked": {"digests": {}, "keys": {}, "identities": {}},
	"evaluation": {"required": false, "thresholds": {}},
	"modelSignature": {"required": false},
	"attestations": {"required": {}},
	"unverifiable": {"allowed": {}},
	"exceptions": {},
}

decide(inp, conf) := d if {
	d := modelgate.decision with input as inp with data.modelgate_config as conf
}

codes(inp, conf) := {r.code | some r in decide(inp, conf).deny}

patched(patch) := json.patch(good_input, patch)

configured(patch) := json.patch(good_config, patch)

only(inp, conf, code) if codes(inp, conf) == {code}

# --- allow ---------------------------------------------------------------------------------------

test_allow_correct_input if {
	d := decide(good_input, good_config)
	d.allow == true
	count(d.deny) == 0
	count(d.warnings) == 0
	d.policy == "modelgate.dev/default-policy/v1"
}

test_allow_key_signature if {
	inp := patched([{"op": "add", "path": "/signatures/-", "value": release_key}])
	decide(inp, good_config).allow
}

# --- input and configuration ---------------------------------------------------------------------

test_deny_wrong_input_version if only(patched([{"op": "replace", "path": "/version", "value": "v0"}]), good_config, "INPUT_VERSION")

test_deny_missing_input_version if "INPUT_VERSION" in codes(patched([{"op": "remove", "path": "/version"}]), good_config)

test_deny_missing_config if {
	d := modelgate.decision with input as good_input with data.modelgate_config as "none"
	"CONFIG_MISSING" in {r.code | some r in d.deny}
	d.allow == false
}

test_deny_empty_config_trusts_nobody if {
	c := codes(good_input, {})
	"UNTRUSTED_SIGNATURE" in c
	"PROVENANCE_SIGNER_UNTRUSTED" in c
}

# --- location ------------------------------------------------------------------------------------

s3_input := patched([
	{"op": "replace", "path": "/artifact/uri", "value": "s3://acme-models/llama/v1"},
	{"op": "replace", "path": "/artifact/scheme", "value": "s3"},
	{"op": "replace", "path": "/artifact/verifiable", "value": false},
	{"op": "replace", "path": "/artifact/reference", "value": null},
	{"op": "replace", "path": "/artifact/digest", "value": null},
	{"op": "replace", "path": "/signatures", "value": []},
	{"op": "replace", "path": "/attestations", "value": []},
])

test_deny_unverifiable_location if only(s3_input, good_config, "UNVERIFIABLE_LOCATION")

test_allow_unverifiable_allowlisted_with_warning if {
	conf := configured([{"op": "replace", "path": "/unverifiable/allowed", "value": {"s3://acme-models/llama": {"approvedBy": "sec"}}}])
	d := decide(s3_input, conf)
	d.allow
	{w.code | some w in d.warnings} == {"UNVERIFIABLE_ALLOWED"}
}

test_deny_unverifiable_prefix_is_component_boundary if {
	conf := configured([{"op": "replace", "path": "/unverifiable/allowed", "value": {"s3://acme-models/ll": {}}}])
	only(s3_input, conf, "UNVERIFIABLE_LOCATION")
}

# --- pinning -------------------------------------------------------------------------------------

test_deny_tag_not_pinned if {
	inp := patched([
		{"op": "replace", "path": "/artifact/uri", "value": "oci://registry.acme.dev/models/llama:v1"},
		{"op": "replace", "path": "/artifact/reference/tag", "value": "v1"},
		{"op": "replace", "path": "/artifact/reference/digest", "value": null},
	])
	only(inp, good_config, "TAG_NOT_PINNED")
	some r in decide(inp, good_config).deny
	endswith(r.message, concat("", ["tags can be moved); it resolves to ", model_digest, " now"]))
}

test_deny_tag_not_pinned_unresolved if {
	inp := patched([
		{"op": "replace", "path": "/artifact/uri", "value": "oci://registry.acme.dev/models/llama:v1"},
		{"op": "replace", "path": "/artifact/reference/tag", "value": "v1"},
		{"op": "replace", "path": "/artifact/reference/digest", "value": null},
		{"op": "replace", "path": "/artifact/digest", "value": null},
		{"op": "replace", "path": "/signatures", "value": []},
		{"op": "replace", "path": "/attestations", "value": []},
	])
	some r in decide(inp, good_config).deny
	r.code == "TAG_NOT_PINNED"
	endswith(r.message, "tags can be moved)")
}

# --- revocation ----------------------------------------------------------------------------------

test_deny_revoked_artifact_digest if {
	conf := configured([{"op": "replace", "path": "/revoked/digests", "value": {model_digest: {"reason": "poisoned"}}}])
	only(good_input, conf, "REVOKED_DIGEST")
}

test_deny_revoked_dependency_digest if {
	conf := configured([{"op": "replace", "path": "/revoked/digests", "value": {concat(":", ["sha256", dataset_hex]): {}}}])
	only(good_input, conf, "REVOKED_DIGEST")
}

test_deny_revoked_key if {
	inp := patched([{"op": "add", "path": "/signatures/-", "value": release_key}])
	conf := configured([{"op": "replace", "path": "/revoked/keys", "value": {"sha256:release": {"reason": "leaked"}}}])
	only(inp, conf, "REVOKED_KEY")
}

test_deny_revoked_identity if {
	conf := configured([{"op": "replace", "path": "/revoked/identities", "value": {gha: {workflow: {}}}}])
	c := codes(good_input, conf)
	"REVOKED_KEY" in c
	"UNTRUSTED_SIGNATURE" in c
}

# --- signatures ----------------------------------------------------------------------------------

test_deny_unsigned if only(patched([{"op": "replace", "path": "/signatures", "value": []}]), good_config, "UNSIGNED")

test_deny_wrong_signer_key if {
	other := object.union(release_key, {"keyId": "sha256:someone-else"})
	only(patched([{"op": "replace", "path": "/signatures", "value": [other]}]), good_config, "UNTRUSTED_SIGNATURE")
}

test_deny_wrong_issuer_same_san if {
	other := object.union(ci_signer, {"issuer": "https://accounts.google.com"})
	only(patched([{"op": "replace", "path": "/signatures", "value": [other]}]), good_config, "UNTRUSTED_SIGNATURE")
}

test_deny_san_is_exact_not_prefix if {
	other := object.union(ci_signer, {"san": "https://github.com/acme/train/.github/workflows/train.yml@refs/heads/main-evil"})
	only(patched([{"op": "replace", "path": "/signatures", "value": [other]}]), good_config, "UNTRUSTED_SIGNATURE")
}

test_untrusted_signature_names_the_key if {
	other := object.union(release_key, {"keyId": "sha256:someone-else"})
	[r] := [r | some r in decide(patched([{"op": "replace", "path": "/signatures", "value": [other]}]), good_config).deny]
	r.code == "UNTRUSTED_SIGNATURE"
	r.message == concat("", [good_input.artifact.uri, ": 1 signature found, made by key sha256:someone-else which policy data does not trust"])
}

test_deny_signature_found_but_unverified_is_not_unsigned if {
	inp := patched([{"op": "replace", "path": "/signatures", "value": []}, {"op": "add", "path": "/unverifiedSignatures", "value": 1}])
	[r] := [r | some r in decide(inp, good_config).deny]
	r.code == "UNTRUSTED_SIGNATURE"
	r.message == concat("", [good_input.artifact.uri, ": 1 signature found, 1 verifies under no configured signer key or identity"])
}

test_untrusted_signature_counts_verified_and_unverified if {
	other := object.union(release_key, {"keyId": "sha256:someone-else"})
	inp := patched([{"op": "replace", "path": "/signatures", "value": [other]}, {"op": "add", "path": "/unverifiedSignatures", "value": 2}])
	[r] := [r | some r in decide(inp, good_config).deny]
	r.message == concat("", [good_input.artifact.uri, ": 3 signatures found, 2 verify under no configured signer key or identity; made by key sha256:someone-else which policy data does not trust"])
}

test_unverified_signatures_do_not_hide_a_trusted_one if {
	decide(patched([{"op": "add", "path": "/unverifiedSignatures", "value": 1}]), good_config).allow
}

test_deny_insufficient_signatures_k_of_n if {
	conf := configured([{"op": "replace", "path": "/signers/threshold", "value": 2}])
	only(good_input, conf, "INSUFFICIENT_SIGNATURES")

	# the same signer twice still counts once
	inp := patched([{"op": "add", "path": "/signatures/-", "value": ci_signer}])
	only(inp, conf, "INSUFFICIENT_SIGNATURES")
}

test_allow_k_of_n if {
	conf := configured([{"op": "replace", "path": "/signers/threshold", "value": 2}])
	decide(patched([{"op": "add", "path": "/signatures/-", "value": release_key}]), conf).allow
}

test_allow_certificate_signer_by_key_id if {
	cert := {"method": "certificate", "keyId": "sha256:release", "san": "mlops@acme.dev", "issuer": null, "oidc": {}, "tlog": null, "timestamps": []}
	decide(patched([{"op": "replace", "path": "/signatures", "value": [cert]}]), good_config).allow
}

# --- provenance ----------------------------------------------------------------------------------

test_deny_missing_provenance if only(patched([{"op": "replace", "path": "/attestations", "value": []}]), good_config, "MISSING_PROVENANCE")

test_allow_provenance_not_required if {
	conf := configured([{"op": "replace", "path": "/provenance/required", "value": false}])
	decide(patched([{"op": "replace", "path": "/attestations", "value": []}]), conf).allow
}

test_deny_provenance_untrusted_signer if {
	other := object.union(ci_signer, {"san": "https://github.com/evil/x/.github/workflows/x.yml@refs/heads/main"})
	only(patched([{"op": "replace", "path": "/attestations/0/signer", "value": other}]), good_config, "PROVENANCE_SIGNER_UNTRUSTED")
}

test_deny_untrusted_builder if {
	inp := patched([{"op": "replace", "path": "/attestations/0/provenance/builderId", "value": "https://evil.example/builder"}])
	only(inp, good_config, "UNTRUSTED_BUILDER")
}

test_build_type_allowlist if {
	conf := configured([{"op": "replace", "path": "/provenance/buildTypes", "value": {"https://tekton.dev/chains/v2/slsa": {}}}])
	only(good_input, conf, "BUILD_TYPE_NOT_ALLOWED")
	conf2 := configured([{"op": "replace", "path": "/provenance/buildTypes", "value": {good_provenance.buildType: {}}}])
	decide(good_input, conf2).allow
}

test_deny_source_not_allowlisted if {
	inp := patched([{"op": "replace", "path": "/attestations/0/provenance/source/repository", "value": "https://github.com/evil/train"}])
	only(inp, good_config, "SOURCE_NOT_ALLOWLISTED")
}

test_deny_source_missing if {
	inp := patched([{"op": "replace", "path": "/attestations/0/provenance/source", "value": null}])
	only(inp, good_config, "SOURCE_NOT_ALLOWLISTED")
}

# --- datasets and containers ---------------------------------------------------------------------

test_deny_dataset_not_allowlisted if {
	inp := patched([{"op": "replace", "path": "/attestations/0/provenance/resolvedDependencies/1/uri", "value": "s3://random/scrape"}])
	only(inp, good_config, "DATASET_NOT_ALLOWLISTED")
}

test_deny_dataset_not_pinned if {
	inp := patched([{"op": "replace", "path": "/attestations/0/provenance/resolvedDependencies/1/digest", "value": {}}])
	only(inp, good_config, "DATASET_NOT_PINNED")
}

test_deny_dataset_digest_mismatch if {
	inp := patched([{"op": "replace", "path": "/attestations/0/provenance/resolvedDependencies/1/digest", "value": {"sha256": trainer_hex}}])
	only(inp, good_config, "DATASET_DIGEST_MISMATCH")
}

test_deny_container_not_allowlisted if {
	inp := patched([{"op": "replace", "path": "/attestations/0/provenance/resolvedDependencies/2/repository", "value": "ghcr.io/acmex/trainer"}])
	only(inp, good_config, "CONTAINER_NOT_ALLOWLISTED")
}

test_deny_container_not_pinned if {
	inp := patched([{"op": "replace", "path": "/attestations/0/provenance/resolvedDependencies/2/digest", "value": {}}])
	only(inp, good_config, "CONTAINER_NOT_ALLOWLISTED")
}

test_allow_container_by_digest if {
	inp := patched([{"op": "replace", "path": "/attestations/0/provenance/resolvedDependencies/2/repository", "value": "docker.io/library/python"}])
	conf := configured([{"op": "replace", "path": "/containers/digests", "value": {concat(":", ["sha256", trainer_hex]): {}}}])
	decide(inp, conf).allow
}

# --- evaluation ----------------------------------------------------------------------------------

eval_attestation(metrics) := {"predicateType": "https://modelgate.dev/evaluation/v1", "signer": ci_signer, "provenance": null, "evaluation": {"metrics": metrics}}

eval_config := configured([
	{"op": "replace", "path": "/evaluation/required", "value": true},
	{"op": "replace", "path": "/evaluation/thresholds", "value": {"accuracy": {"min": 0.9}, "toxicity": {"max": 0.1}}},
])

test_deny_evaluation_missing if only(good_input, eval_config, "EVALUATION_MISSING")

test_allow_evaluation_thresholds_met if {
	inp := patched([{"op": "add", "path": "/attestations/-", "value": eval_attestation({"accuracy": 0.93, "toxicity": 0.02})}])
	decide(inp, eval_config).allow
}

test_deny_evaluation_below_min if {
	inp := patched([{"op": "add", "path": "/attestations/-", "value": eval_attestation({"accuracy": 0.5, "toxicity": 0.02})}])
	only(inp, eval_config, "EVALUATION_THRESHOLD")
}

test_deny_evaluation_above_max if {
	inp := patched([{"op": "add", "path": "/attestations/-", "value": eval_attestation({"accuracy": 0.95, "toxicity": 0.4})}])
	only(inp, eval_config, "EVALUATION_THRESHOLD")
}

test_deny_evaluation_metric_missing if {
	inp := patched([{"op": "add", "path": "/attestations/-", "value": eval_attestation({"accuracy": 0.95})}])
	only(inp, eval_config, "EVALUATION_THRESHOLD")
}

test_untrusted_evaluation_does_not_count if {
	att := object.union(eval_attestation({"accuracy": 0.99, "toxicity": 0}), {"signer": object.union(ci_signer, {"issuer": "https://x"})})
	only(patched([{"op": "add", "path": "/attestations/-", "value": att}]), eval_config, "EVALUATION_MISSING")
}

# --- OMS model signature -------------------------------------------------------------------------

oms_config := configured([{"op": "replace", "path": "/modelSignature/required", "value": true}])

test_deny_model_signature_missing if only(good_input, oms_config, "MODEL_SIGNATURE_MISSING")

test_allow_model_signature_present if {
	oms := {"signer": release_key, "modelName": "llama", "rootDigest": model_digest, "resourceCount": 3, "verifiedAgainst": "oci-manifest"}
	decide(patched([{"op": "add", "path": "/modelSignatures/-", "value": oms}]), oms_config).allow
}

init_stage(stage) := [
	{"op": "replace", "path": "/context/mode", "value": "init"},
	{"op": "replace", "path": "/context/user", "value": null},
	{"op": "replace", "path": "/context/operation", "value": null},
	{"op": "add", "path": "/context/stage", "value": stage},
]

test_init_defers_model_signature_before_pull_with_warning if {
	d := decide(patched(init_stage("before-pull")), oms_config)
	d.allow
	{w.code | some w in d.warnings} == {"MODEL_SIGNATURE_DEFERRED"}
}

test_init_requires_model_signature_before_publish if only(patched(init_stage("before-publish")), oms_config, "MODEL_SIGNATURE_MISSING")

test_init_allows_model_signature_verified_against_files if {
	oms := {"signer": release_key, "modelName": "llama", "rootDigest": model_digest, "resourceCount": 3, "verifiedAgainst": "files"}
	d := decide(patched(array.concat(init_stage("before-publish"), [{"op": "add", "path": "/modelSignatures/-", "value": oms}])), oms_config)
	d.allow
	count(d.warnings) == 0
}

test_init_untrusted_model_signature_does_not_count if {
	oms := {"signer": object.union(release_key, {"keyId": "sha256:ffff"}), "modelName": "llama", "rootDigest": model_digest, "resourceCount": 3, "verifiedAgainst": "files"}
	only(patched(array.concat(init_stage("before-publish"), [{"op": "add", "path": "/modelSignatures/-", "value": oms}])), oms_config, "MODEL_SIGNATURE_MISSING")
}

test_init_without_required_model_signature_has_no_deferral_warning if {
	d := decide(patched(init_stage("before-pull")), good_config)
	d.allow
	count(d.warnings) == 0
}

# --- exceptions ----------------------------------------------------------------------------------

tag_input := patched([
	{"op": "replace", "path": "/artifact/uri", "value": "oci://registry.acme.dev/models/llama:v1"},
	{"op": "replace", "path": "/artifact/reference/tag", "value": "v1"},
	{"op": "replace", "path": "/artifact/reference/digest", "value": null},
])

exception(expires) := {"uri": "oci://registry.acme.dev/models/llama:v1", "waive": ["TAG_NOT_PINNED", "REVOKED_DIGEST"], "approvedBy": "bob@acme.dev", "reason": "INC-42 rollback", "expires": expires}

test_exception_waives_and_is_reported if {
	conf := configured([{"op": "replace", "path": "/exceptions", "value": {"EXC-1": exception("2026-10-01T00:00:00Z")}}])
	d := decide(tag_input, conf)
	d.allow
	d.exceptions == {{"id": "EXC-1", "approvedBy": "bob@acme.dev", "reason": "INC-42 rollback", "expires": "2026-10-01T00:00:00Z", "waived": ["TAG_NOT_PINNED"]}}
	{w.code | some w in d.warnings} == {"EXCEPTION_APPLIED"}
}

test_exception_expired if {
	conf := configured([{"op": "replace", "path": "/exceptions", "value": {"EXC-1": exception("2026-08-01T00:00:00Z")}}])
	d := decide(tag_input, conf)
	{r.code | some r in d.deny} == {"TAG_NOT_PINNED"}
	{w.code | some w in d.warnings} == {"EXCEPTION_EXPIRED"}
}

test_exception_malformed_is_ignored if {
	e := object.remove(exception("2026-10-01T00:00:00Z"), ["approvedBy"])
	conf := configured([{"op": "replace", "path": "/exceptions", "value": {"EXC-1": e}}])
	d := decide(tag_input, conf)
	{r.code | some r in d.deny} == {"TAG_NOT_PINNED"}
	{w.code | some w in d.warnings} == {"EXCEPTION_MALFORMED"}
}

test_exception_for_other_artifact_does_not_apply if {
	e := object.union(exception("2026-10-01T00:00:00Z"), {"uri": "oci://registry.acme.dev/models/other:v1"})
	conf := configured([{"op": "replace", "path": "/exceptions", "value": {"EXC-1": e}}])
	only(tag_input, conf, "TAG_NOT_PINNED")
}

test_exception_by_digest_cannot_waive_revocation if {
	e := {"digest": model_digest, "waive": ["REVOKED_DIGEST"], "approvedBy": "bob", "reason": "r", "expires": "2027-01-01T00:00:00Z"}
	conf := configured([
		{"op": "replace", "path": "/exceptions", "value": {"EXC-2": e}},
		{"op": "replace", "path": "/revoked/digests", "value": {model_digest: {}}},
	])
	d := decide(good_input, conf)
	{r.code | some r in d.deny} == {"REVOKED_DIGEST"}
	count(d.exceptions) == 0
}

test_unnamed_artifact_is_still_named_in_messages if {
	d := decide(patched([{"op": "remove", "path": "/artifact/uri"}, {"op": "replace", "path": "/signatures", "value": []}]), good_config)
	some r in d.deny
	r.code == "UNSIGNED"
	startswith(r.message, "<unnamed artifact>: ")
}

test_deny_source_field_absent if {
	inp := patched([{"op": "remove", "path": "/attestations/0/provenance/source"}])
	only(inp, good_config, "SOURCE_NOT_ALLOWLISTED")
}

test_messages_name_artifact_and_rule if {
	inp := patched([{"op": "replace", "path": "/attestations/0/provenance/builderId", "value": "https://evil.example/builder"}])
	[r] := [r | some r in decide(inp, good_config).deny]
	r.message == concat("", [good_input.artifact.uri, ": built by untrusted builder https://evil.example/builder"])
}

test_defaults_when_settings_are_absent if {
	conf := configured([{"op": "remove", "path": "/signers/threshold"}, {"op": "remove", "path": "/provenance/required"}])
	decide(good_input, conf).allow
	only(patched([{"op": "replace", "path": "/attestations", "value": []}]), conf, "MISSING_PROVENANCE")
}

# --- required attestation types ------------------------------------------------------------------

spdx := "https://spdx.dev/Document"

sbom_attestation(signer) := {"predicateType": spdx, "signer": signer, "provenance": null, "evaluation": null}

required_config := configured([{"op": "replace", "path": "/attestations/required", "value": {spdx: {}, "https://slsa.dev/provenance/v1": {}, "https://modelgate.dev/evaluation/v1": {}}}])

test_deny_each_missing_attestation_type if {
	d := decide(good_input, required_config)
	missing := [r | some r in d.deny; r.code == "ATTESTATION_MISSING"]
	count(missing) == 2
	some r in missing
	contains(r.message, spdx)
	startswith(r.message, good_input.artifact.uri)
}

test_allow_required_attestations_present if {
	inp := patched([
		{"op": "add", "path": "/attestations/-", "value": sbom_attestation(ci_signer)},
		{"op": "add", "path": "/attestations/-", "value": eval_attestation({"accuracy": 0.95})},
	])
	decide(inp, required_config).allow
}

test_untrusted_attestation_type_does_not_count if {
	stranger := object.union(ci_signer, {"san": "https://github.com/evil/x/.github/workflows/a.yml@refs/heads/main"})
	inp := patched([{"op": "add", "path": "/attestations/-", "value": sbom_attestation(stranger)}])
	conf := configured([{"op": "replace", "path": "/attestations/required", "value": {spdx: {}}}])
	only(inp, conf, "ATTESTATION_MISSING")
}

test_no_required_attestations_by_default if decide(good_input, configured([{"op": "remove", "path": "/attestations"}])).allow

test_required_attestation_not_checked_for_unverifiable if {
	conf := configured([
		{"op": "replace", "path": "/attestations/required", "value": {spdx: {}}},
		{"op": "replace", "path": "/unverifiable/allowed", "value": {"s3://acme-models/llama": {}}},
	])
	decide(s3_input, conf).allow
}

# --- identity patterns (matched by the engine, looked up here) ----------------------------------

acme_workflows := "^https://github\\.com/acme/.+$"

pattern_config := configured([{"op": "replace", "path": "/signers/identities", "value": {}}, {"op": "add", "path": "/signers/identityPatterns", "value": {gha: {acme_workflows: {}}}}])

marked_signer := object.union(ci_signer, {"identityPatterns": [acme_workflows]})

test_allow_identity_matched_by_pattern if {
	inp := patched([
		{"op": "replace", "path": "/signatures/0", "value": marked_signer},
		{"op": "replace", "path": "/attestations/0/signer", "value": marked_signer},
	])
	decide(inp, pattern_config).allow
}

test_deny_identity_without_pattern_match if {
	c := codes(good_input, pattern_config)
	"UNTRUSTED_SIGNATURE" in c
	"PROVENANCE_SIGNER_UNTRUSTED" in c
}

test_pattern_of_another_issuer_does_not_count if {
	other := object.union(marked_signer, {"issuer": "https://accounts.google.com"})
	inp := patched([{"op": "replace", "path": "/signatures/0", "value": other}])
	"UNTRUSTED_SIGNATURE" in codes(inp, pattern_config)
}

# --- signed datasets (datasets.requireSignature; input.datasets from the pipeline) ----------------

dataset_uri := "oci://registry.acme.dev/datasets/imagenet"

dataset_digest := concat(":", ["sha256", dataset_hex])

oci_dataset_input(checks) := patched([
	{"op": "replace", "path": "/attestations/0/provenance/resolvedDependencies/1/uri", "value": dataset_uri},
	{"op": "add", "path": "/datasets", "value": checks},
])

signed_config := configured([
	{"op": "replace", "path": "/datasets", "value": {"requireSignature": true, dataset_uri: {"digests": {dataset_digest: {}}}}},
])

dataset_check(patch) := json.patch(
	{"uri": dataset_uri, "digest": dataset_digest, "status": "verified", "reason": null, "artifactType": "application/vnd.modelgate.dataset.manifest.v1+json", "signers": [release_key], "unverifiedSignatures": 0},
	patch,
)

test_allow_signed_dataset if decide(oci_dataset_input([dataset_check([])]), signed_config).allow

test_signature_not_required_by_default if {
	conf := configured([{"op": "replace", "path": "/datasets", "value": {dataset_uri: {"digests": {dataset_digest: {}}}}}])
	decide(oci_dataset_input([]), conf).allow
}

test_deny_dataset_not_checked if only(oci_dataset_input([]), signed_config, "DATASET_UNREACHABLE")

test_deny_dataset_checked_under_another_digest if {
	other := dataset_check([{"op": "replace", "path": "/digest", "value": concat(":", ["sha256", trainer_hex])}])
	only(oci_dataset_input([other]), signed_config, "DATASET_UNREACHABLE")
}

test_deny_dataset_unreachable if {
	check := dataset_check([{"op": "replace", "path": "/status", "value": "unreachable"}, {"op": "replace", "path": "/reason", "value": "NOT_FOUND: manifest unknown"}, {"op": "replace", "path": "/signers", "value": []}])
	only(oci_dataset_input([check]), signed_config, "DATASET_UNREACHABLE")
	some r in decide(oci_dataset_input([check]), signed_config).deny
	contains(r.message, "NOT_FOUND: manifest unknown")
}

test_deny_dataset_without_signature if {
	check := dataset_check([{"op": "replace", "path": "/signers", "value": []}])
	only(oci_dataset_input([check]), signed_config, "DATASET_UNSIGNED")
	some r in decide(oci_dataset_input([check]), signed_config).deny
	contains(r.message, "no signature or attestation found")
}

test_deny_dataset_with_unverified_signature if {
	check := dataset_check([{"op": "replace", "path": "/signers", "value": []}, {"op": "replace", "path": "/unverifiedSignatures", "value": 2}])
	some r in decide(oci_dataset_input([check]), signed_config).deny
	r.code == "DATASET_UNSIGNED"
	contains(r.message, "2 signatures found that verify under no configured signer")
}

test_deny_dataset_signed_by_untrusted_or_revoked_signer if {
	stranger := object.union(release_key, {"keyId": "sha256:stranger"})
	check := dataset_check([{"op": "replace", "path": "/signers", "value": [stranger]}])
	some r in decide(oci_dataset_input([check]), signed_config).deny
	r.code == "DATASET_UNSIGNED"
	contains(r.message, "signed only by key sha256:stranger")
	revoked := json.patch(signed_config, [{"op": "add", "path": "/revoked/keys/sha256:release", "value": {}}])
	"DATASET_UNSIGNED" in codes(oci_dataset_input([dataset_check([])]), revoked)
}

test_deny_signed_artifact_that_is_not_a_dataset if {
	check := dataset_check([{"op": "replace", "path": "/artifactType", "value": "application/vnd.cncf.model.manifest.v1+json"}])
	only(oci_dataset_input([check]), signed_config, "DATASET_UNSIGNED")
}

test_dataset_trusted_by_identity_pattern if {
	conf := json.patch(pattern_config, [{"op": "replace", "path": "/datasets", "value": {"requireSignature": true, dataset_uri: {"digests": {dataset_digest: {}}}}}])
	inp := json.patch(oci_dataset_input([dataset_check([{"op": "replace", "path": "/signers", "value": [marked_signer]}])]), [
		{"op": "replace", "path": "/signatures/0", "value": marked_signer},
		{"op": "replace", "path": "/attestations/0/signer", "value": marked_signer},
	])
	decide(inp, conf).allow
}

test_deny_dataset_when_input_has_no_dataset_checks if {
	inp := patched([{"op": "replace", "path": "/attestations/0/provenance/resolvedDependencies/1/uri", "value": dataset_uri}])
	only(inp, signed_config, "DATASET_UNREACHABLE")
}

# --- model variants ------------------------------------------------------------------------------

int4 := {"name": "int4", "digest": model_digest, "index": "sha256:1111111111111111111111111111111111111111111111111111111111111111", "platform": null, "accelerator": null}

# The index itself: signed, no provenance (the content rules apply to its variants).
test_allow_signed_index_without_provenance if {
	inp := patched([
		{"op": "replace", "path": "/attestations", "value": []},
		{"op": "add", "path": "/artifact/variants", "value": [int4]},
	])
	decide(inp, configured([{"op": "replace", "path": "/evaluation/required", "value": true}])).allow
}

test_deny_unsigned_index if only(patched([{"op": "replace", "path": "/signatures", "value": []}, {"op": "add", "path": "/artifact/variants", "value": [int4]}]), good_config, "UNSIGNED")

test_allow_variant_listed if decide(patched([{"op": "add", "path": "/artifact/variant", "value": int4}]), configured([{"op": "add", "path": "/variants", "value": {"allowed": {"int4": {}}}}])).allow

test_allow_variant_unrestricted if decide(patched([{"op": "add", "path": "/artifact/variant", "value": int4}]), good_config).allow

test_deny_variant_not_allowed if only(patched([{"op": "add", "path": "/artifact/variant", "value": int4}]), configured([{"op": "add", "path": "/variants", "value": {"allowed": {"fp16": {}}}}]), "VARIANT_NOT_ALLOWED")

test_variant_still_needs_provenance if "MISSING_PROVENANCE" in codes(patched([{"op": "add", "path": "/artifact/variant", "value": int4}, {"op": "replace", "path": "/attestations", "value": []}]), good_config)
