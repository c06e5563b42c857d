# modelgate default policy (package modelgate, entrypoint modelgate/decision).
#
# One decision for CI (`modelgate policy eval`), KServe admission and the storage-initializer.
# Input: policies/schema/input.v1.schema.json, built only from verified evidence (src/policy/input.ts).
# Data:  data.modelgate_config, policies/schema/data.v1.schema.json — every allowlist lives there,
#        as maps (O(1) lookups; no regex or glob in these rules, see performance-facts.md).
#
# Fail closed: a missing config section means "nothing is trusted", never "anything goes".
# There is no bypass annotation: the only way to waive a deny is an exception in data, which must name
# who approved it, why, and when it expires, and which is reported in every decision it affects.
# Only `%s`/`%v`/`%d` in sprintf (opa-wasm's JS sprintf throws on `%q`).
package modelgate

import rego.v1

input_version := "modelgate.dev/policy-input/v1"

policy_version := "modelgate.dev/default-policy/v1"

# Deny codes no exception can waive.
unwaivable := {"INPUT_VERSION", "CONFIG_MISSING", "REVOKED_DIGEST", "REVOKED_KEY"}

# Allowlists are always read with a full reference (data.modelgate_config.<section>.<map>[key]) so the
# evaluator looks up one key; binding a whole map to a rule or passing it to object.get copies it on
# every evaluation (measured: 12.9 ms vs 0.1 ms per evaluation with 1,000-entry maps in Go OPA).

artifact := input.artifact

artifact_name := artifact.uri if is_string(artifact.uri)

else := "<unnamed artifact>"

# ---------------------------------------------------------------------------------------------
# Decision

decision := {
	"allow": count(deny) == 0,
	"deny": deny,
	"warnings": warnings,
	"exceptions": exceptions_applied,
	"policy": policy_version,
}

reason(code, message) := {"code": code, "message": message}

deny contains r if {
	some r in violations
	not waived(r.code)
}

waived(code) if {
	not unwaivable[code]
	some id
	applicable_exception(id)
	code in data.modelgate_config.exceptions[id].waive
}

# ---------------------------------------------------------------------------------------------
# Input version and configuration

version_ok if input.version == input_version

violations contains reason("INPUT_VERSION", sprintf("%s: policy input version is not %s", [artifact_name, input_version])) if {
	not version_ok
}

# OPA quirk: `not is_object(x)` is false when x is undefined; wrap type tests in rules before negating.
config_present if is_object(data.modelgate_config.signers)

violations contains reason("CONFIG_MISSING", sprintf("%s: policy data has no modelgate_config.signers; nothing is trusted", [artifact_name])) if {
	not config_present
}

# ---------------------------------------------------------------------------------------------
# Location: only OCI artifacts can be verified; other schemes must be allowlisted explicitly.

verifiable if artifact.verifiable == true

# Allowlist entries are URIs or URI prefixes ending at a "/" boundary: s3://bucket/models allows
# s3://bucket/models/llama but not s3://bucket/models-old. Checked with map lookups per prefix.
unverifiable_allowed_by contains prefix if {
	not verifiable
	parts := split(artifact.uri, "/")
	some i in numbers.range(3, count(parts))
	prefix := concat("/", array.slice(parts, 0, i))
	data.modelgate_config.unverifiable.allowed[prefix]
}

unverifiable_allowed if count(unverifiable_allowed_by) > 0

violations contains reason("UNVERIFIABLE_LOCATION", msg) if {
	not verifiable
	not unverifiable_allowed
	msg := sprintf("%s: %s locations cannot be verified at admission and this one is not allowlisted", [artifact_name, artifact.scheme])
}

warnings contains reason("UNVERIFIABLE_ALLOWED", msg) if {
	not verifiable
	some prefix in unverifiable_allowed_by
	msg := sprintf("%s: unverifiable %s location admitted by allowlist entry %s", [artifact_name, artifact.scheme, prefix])
}

# ---------------------------------------------------------------------------------------------
# Model variants: a model index (an OCI image index of ModelPack manifests) is decided on its own
# signatures, revocation and the variants it lists (input.artifact.variants); the model's content rules
# (provenance, attestations, evaluation, OMS signature) apply to each variant a pod could select, which
# is decided on its own evidence (input.artifact.variant). variants.allowed restricts the variant names.

model_index if is_array(artifact.variants)

variants_restricted if is_object(data.modelgate_config.variants.allowed)

violations contains reason("VARIANT_NOT_ALLOWED", msg) if {
	variants_restricted
	name := artifact.variant.name
	not data.modelgate_config.variants.allowed[name]
	msg := sprintf("%s: variant %s of index %s is not in variants.allowed", [artifact_name, name, artifact.variant.index])
}

# ---------------------------------------------------------------------------------------------
# Digest pinning

pinned if is_string(artifact.reference.digest)

violations contains reason("TAG_NOT_PINNED", msg) if {
	verifiable
	not pinned
	msg := sprintf("%s: reference is not pinned by digest (use @sha256:...; tags can be moved)%s", [artifact_name, resolved_now])
}

# The pipeline resolves an unpinned reference once, so the message can name the digest to pin.
resolved_now := sprintf("; it resolves to %s now", [artifact.digest]) if is_string(artifact.digest)

else := ""

# ---------------------------------------------------------------------------------------------
# Revocation (artifact, dependency digests, signing keys and identities)

violations contains reason("REVOKED_DIGEST", sprintf("%s: artifact digest %s is revoked", [artifact_name, d])) if {
	some d in {artifact.digest, artifact.reference.digest}
	is_string(d)
	data.modelgate_config.revoked.digests[d]
}

violations contains reason("REVOKED_DIGEST", msg) if {
	some p in trusted_provenances
	some dep in p.resolvedDependencies
	some alg, hex in dep.digest
	d := concat(":", [alg, hex])
	data.modelgate_config.revoked.digests[d]
	msg := sprintf("%s: build dependency %s has revoked digest %s", [artifact_name, dep.uri, d])
}

all_signers contains s if some s in input.signatures

all_signers contains a.signer if some a in input.attestations

all_signers contains m.signer if some m in input.modelSignatures

revoked_signer(s) if {
	is_string(s.keyId)
	data.modelgate_config.revoked.keys[s.keyId]
}

revoked_signer(s) if {
	s.method == "keyless"
	data.modelgate_config.revoked.identities[s.issuer][s.san]
}

violations contains reason("REVOKED_KEY", sprintf("%s: signed by revoked signer %s", [artifact_name, describe(s)])) if {
	some s in all_signers
	revoked_signer(s)
}

describe(s) := sprintf("key %s", [s.keyId]) if s.method == "key"

describe(s) := sprintf("certificate %s (SAN %s)", [s.keyId, object.get(s, "san", "none")]) if s.method == "certificate"

describe(s) := sprintf("%s (issuer %s)", [s.san, s.issuer]) if s.method == "keyless"

# ---------------------------------------------------------------------------------------------
# Signatures: k of n trusted signers, keys by key id, keyless identities by exact issuer + SAN or SAN pattern.

signer_id(s) := concat("", ["key:", s.keyId]) if {
	s.method in {"key", "certificate"}
	data.modelgate_config.signers.keys[s.keyId]
}

signer_id(s) := concat("", ["identity:", s.issuer, " ", s.san]) if {
	s.method == "keyless"
	data.modelgate_config.signers.identities[s.issuer][s.san]
}

# Identity patterns (signers.identityPatterns: issuer → anchored SAN pattern) are compiled once when
# the data loads and matched by the engine, which lists the matching pattern keys in
# s.identityPatterns (src/policy/identity-patterns.ts); here they are only looked up. The signer is
# still its exact SAN, so two workflows matched by one pattern are two signers.
signer_id(s) := concat("", ["identity:", s.issuer, " ", s.san]) if {
	s.method == "keyless"
	some pattern in s.identityPatterns
	data.modelgate_config.signers.identityPatterns[s.issuer][pattern]
}

trusted(s) if {
	signer_id(s)
	not revoked_signer(s)
}

trusted_signers contains signer_id(s) if {
	some s in input.signatures
	trusted(s)
}

threshold := data.modelgate_config.signers.threshold if is_number(data.modelgate_config.signers.threshold)

else := 1

# Signatures found on the artifact that verified under none of the configured signers (keys and
# identities given to the verifier): counted by the pipeline so a signed model is never reported as
# unsigned. They never count towards trust. Absent (older inputs) means none.
unverified_signatures := input.unverifiedSignatures if is_number(input.unverifiedSignatures)

else := 0

signatures_found := count(input.signatures) + unverified_signatures

plural_s(n) := "" if n == 1

else := "s"

verifies(n) := "verifies" if n == 1

else := "verify"

violations contains reason("UNSIGNED", sprintf("%s: no verified signature", [artifact_name])) if {
	verifiable
	signatures_found == 0
}

# One code for "there is a signature, but no trusted signer made it": by a verified signer the policy
# data does not trust (or revoked), or by a signer the verifier was not given.
untrusted_signature_parts contains sprintf("made by %s which policy data does not trust", [concat(", ", seen)]) if {
	count(input.signatures) > 0
	seen := sort({describe(s) | some s in input.signatures})
}

untrusted_signature_parts contains sprintf("%d %s under no configured signer key or identity", [n, verifies(n)]) if {
	n := unverified_signatures
	n > 0
}

violations contains reason("UNTRUSTED_SIGNATURE", msg) if {
	verifiable
	signatures_found > 0
	count(trusted_signers) == 0
	msg := sprintf("%s: %d signature%s found, %s", [artifact_name, signatures_found, plural_s(signatures_found), concat("; ", sort(untrusted_signature_parts))])
}

violations contains reason("INSUFFICIENT_SIGNATURES", msg) if {
	verifiable
	count(trusted_signers) > 0
	count(trusted_signers) < threshold
	msg := sprintf("%s: %d of %d required trusted signers", [artifact_name, count(trusted_signers), threshold])
}

# ---------------------------------------------------------------------------------------------
# SLSA provenance: trusted signer, trusted builder, build type, source repository.

provenance_required := data.modelgate_config.provenance.required if is_boolean(data.modelgate_config.provenance.required)

else := true

any_provenances := [a.provenance | some a in input.attestations; is_object(a.provenance)]

trusted_provenances := [a.provenance | some a in input.attestations; is_object(a.provenance); trusted(a.signer)]

violations contains reason("MISSING_PROVENANCE", sprintf("%s: no verified SLSA provenance", [artifact_name])) if {
	verifiable
	not model_index
	provenance_required == true
	count(any_provenances) == 0
}

violations contains reason("PROVENANCE_SIGNER_UNTRUSTED", msg) if {
	verifiable
	provenance_required == true
	count(any_provenances) > 0
	count(trusted_provenances) == 0
	seen := concat(", ", sort([describe(a.signer) | some a in input.attestations; is_object(a.provenance)]))
	msg := sprintf("%s: SLSA provenance is signed only by untrusted signers: %s", [artifact_name, seen])
}

violations contains reason("UNTRUSTED_BUILDER", msg) if {
	some p in trusted_provenances
	not data.modelgate_config.provenance.builders[p.builderId]
	msg := sprintf("%s: built by untrusted builder %s", [artifact_name, p.builderId])
}

violations contains reason("BUILD_TYPE_NOT_ALLOWED", msg) if {
	count(data.modelgate_config.provenance.buildTypes) > 0
	some p in trusted_provenances
	not data.modelgate_config.provenance.buildTypes[p.buildType]
	msg := sprintf("%s: build type %s is not allowed", [artifact_name, p.buildType])
}

has_source(p) if is_object(p.source)

violations contains reason("SOURCE_NOT_ALLOWLISTED", msg) if {
	some p in trusted_provenances
	not has_source(p)
	msg := sprintf("%s: provenance names no source repository", [artifact_name])
}

violations contains reason("SOURCE_NOT_ALLOWLISTED", msg) if {
	some p in trusted_provenances
	not data.modelgate_config.sources.repositories[p.source.repository]
	msg := sprintf("%s: source repository %s is not allowlisted", [artifact_name, p.source.repository])
}

# ---------------------------------------------------------------------------------------------
# Build dependencies: datasets (allowlisted, pinned by digest) and containers (by digest or repo).

dependencies contains dep if {
	some p in trusted_provenances
	some dep in p.resolvedDependencies
}

dependency_digests(dep) := {concat(":", [alg, hex]) | some alg, hex in object.get(dep, "digest", {})}

violations contains reason("DATASET_NOT_PINNED", msg) if {
	some dep in dependencies
	dep.kind == "dataset"
	count(dependency_digests(dep)) == 0
	msg := sprintf("%s: training dataset %s is not pinned by digest", [artifact_name, dep.uri])
}

violations contains reason("DATASET_NOT_ALLOWLISTED", msg) if {
	some dep in dependencies
	dep.kind == "dataset"
	count(dependency_digests(dep)) > 0
	not data.modelgate_config.datasets[dep.uri]
	msg := sprintf("%s: training dataset %s is not allowlisted", [artifact_name, dep.uri])
}

violations contains reason("DATASET_DIGEST_MISMATCH", msg) if {
	some dep in dependencies
	dep.kind == "dataset"
	digests := dependency_digests(dep)
	count(digests) > 0
	allowed := data.modelgate_config.datasets[dep.uri].digests
	count({d | some d in digests; allowed[d]}) == 0
	msg := sprintf("%s: training dataset %s has digest %s, which is not an allowlisted version", [artifact_name, dep.uri, concat(", ", sort(digests))])
}

# Signed datasets (data datasets.requireSignature: true): each dataset a trusted provenance names must
# be an OCI dataset artifact (`modelgate dataset push`) that the pipeline fetched by the digest the
# provenance names, carrying a verified signature or attestation by a trusted signer (one is enough;
# the signers.threshold applies to the model). The pipeline reports what it found in input.datasets
# (src/pipeline/datasets.ts); a dataset it did not check, or could not read, is denied (fail closed).
# This is in addition to the allowlist above.

datasets_require_signature if data.modelgate_config.datasets.requireSignature == true

dataset_manifest_type := "application/vnd.modelgate.dataset.manifest.v1+json"

checked_datasets := input.datasets if is_array(input.datasets)

else := []

dataset_checks(dep) := [c | some c in checked_datasets; c.uri == dep.uri; dependency_digests(dep)[c.digest]]

signed_datasets_to_check contains dep if {
	datasets_require_signature
	some dep in dependencies
	dep.kind == "dataset"
	count(dependency_digests(dep)) > 0
}

dataset_trusted_signers(c) := {signer_id(s) | some s in c.signers; trusted(s)}

violations contains reason("DATASET_UNREACHABLE", msg) if {
	some dep in signed_datasets_to_check
	count(dataset_checks(dep)) == 0
	msg := sprintf("%s: training dataset %s (%s) was not fetched and verified, so its signature cannot be checked", [artifact_name, dep.uri, concat(", ", sort(dependency_digests(dep)))])
}

violations contains reason("DATASET_UNREACHABLE", msg) if {
	some dep in signed_datasets_to_check
	some c in dataset_checks(dep)
	c.status != "verified"
	msg := sprintf("%s: training dataset %s@%s cannot be verified: %v", [artifact_name, c.uri, c.digest, c.reason])
}

violations contains reason("DATASET_UNSIGNED", msg) if {
	some dep in signed_datasets_to_check
	some c in dataset_checks(dep)
	c.status == "verified"
	count(dataset_trusted_signers(c)) == 0
	msg := sprintf("%s: training dataset %s@%s has no signature or attestation by a trusted signer (%s)", [artifact_name, c.uri, c.digest, dataset_signature_detail(c)])
}

violations contains reason("DATASET_UNSIGNED", msg) if {
	some dep in signed_datasets_to_check
	some c in dataset_checks(dep)
	c.status == "verified"
	count(dataset_trusted_signers(c)) > 0
	c.artifactType != dataset_manifest_type
	msg := sprintf("%s: training dataset %s@%s is signed but is not a modelgate dataset manifest (artifactType %v)", [artifact_name, c.uri, c.digest, c.artifactType])
}

dataset_signature_detail(c) := sprintf("signed only by %s, which policy data does not trust", [concat(", ", sort({describe(s) | some s in c.signers}))]) if {
	count(c.signers) > 0
} else := sprintf("%d signature%s found that %s under no configured signer key or identity", [n, plural_s(n), verifies(n)]) if {
	n := c.unverifiedSignatures
	n > 0
} else := "no signature or attestation found on it"

container_allowed(dep) if {
	some d in dependency_digests(dep)
	data.modelgate_config.containers.digests[d]
}

# Repository allowlist entries match whole path components: ghcr.io/acme allows ghcr.io/acme/trainer.
container_allowed(dep) if {
	count(dependency_digests(dep)) > 0
	parts := split(dep.repository, "/")
	some i in numbers.range(1, count(parts))
	data.modelgate_config.containers.repositories[concat("/", array.slice(parts, 0, i))]
}

violations contains reason("CONTAINER_NOT_ALLOWLISTED", msg) if {
	some dep in dependencies
	dep.kind == "container"
	not container_allowed(dep)
	msg := sprintf("%s: build container %s is not allowlisted by digest or repository (or is not pinned by digest)", [artifact_name, dep.uri])
}

# ---------------------------------------------------------------------------------------------
# Evaluation attestation (optional): metric thresholds {"accuracy": {"min": 0.9}, "toxicity": {"max": 0.1}}

evaluations := [a.evaluation | some a in input.attestations; is_object(a.evaluation); trusted(a.signer)]

violations contains reason("EVALUATION_MISSING", sprintf("%s: no trusted evaluation attestation", [artifact_name])) if {
	verifiable
	not model_index
	data.modelgate_config.evaluation.required == true
	count(evaluations) == 0
}

has_metric(e, metric) if is_number(e.metrics[metric])

violations contains reason("EVALUATION_THRESHOLD", msg) if {
	some e in evaluations
	some metric, _ in data.modelgate_config.evaluation.thresholds
	not has_metric(e, metric)
	msg := sprintf("%s: evaluation does not report metric %s", [artifact_name, metric])
}

violations contains reason("EVALUATION_THRESHOLD", msg) if {
	some e in evaluations
	some metric, limit in data.modelgate_config.evaluation.thresholds
	value := e.metrics[metric]
	value < limit.min
	msg := sprintf("%s: evaluation metric %s = %v is below the minimum %v", [artifact_name, metric, value, limit.min])
}

violations contains reason("EVALUATION_THRESHOLD", msg) if {
	some e in evaluations
	some metric, limit in data.modelgate_config.evaluation.thresholds
	value := e.metrics[metric]
	value > limit.max
	msg := sprintf("%s: evaluation metric %s = %v is above the maximum %v", [artifact_name, metric, value, limit.max])
}

# ---------------------------------------------------------------------------------------------
# Required attestation types: {"https://spdx.dev/Document": {}, "https://slsa.dev/provenance/v1": {}}
# Each type named in data must be carried by at least one verified attestation whose signer is trusted;
# each missing one is its own ATTESTATION_MISSING deny.

trusted_predicate_types contains a.predicateType if {
	some a in input.attestations
	trusted(a.signer)
}

violations contains reason("ATTESTATION_MISSING", msg) if {
	verifiable
	not model_index
	some predicate_type, _ in data.modelgate_config.attestations.required
	not trusted_predicate_types[predicate_type]
	msg := sprintf("%s: no %s attestation by a trusted signer", [artifact_name, predicate_type])
}

# ---------------------------------------------------------------------------------------------
# OpenSSF model signature (OMS), when required

# The storage initializer (mode init) decides twice: "before-pull", when nothing is fetched yet, and
# "before-publish", when the pulled files were checked against the model's OMS signature (model.sig)
# and the result is in input.modelSignatures (verifiedAgainst "files"). A required model signature is
# therefore deferred to the second decision; any other stage (or none: cli, admission) checks it.

model_signature_deferred if input.context.stage == "before-pull"

violations contains reason("MODEL_SIGNATURE_MISSING", sprintf("%s: no OMS model signature by a trusted signer", [artifact_name])) if {
	not model_index
	data.modelgate_config.modelSignature.required == true
	not model_signature_deferred
	count([m | some m in input.modelSignatures; trusted(m.signer)]) == 0
}

warnings contains reason("MODEL_SIGNATURE_DEFERRED", sprintf("%s: the required OMS model signature is checked against the pulled files before publication", [artifact_name])) if {
	not model_index
	data.modelgate_config.modelSignature.required == true
	model_signature_deferred
}

# ---------------------------------------------------------------------------------------------
# Exceptions: {"<id>": {"digest": "sha256:..." | "uri": "...", "waive": ["CODE", ...],
#               "approvedBy": "...", "reason": "...", "expires": "YYYY-MM-DDTHH:MM:SSZ"}}
# RFC 3339 UTC timestamps of this fixed form compare correctly as strings (time.* builtins are not
# available in opa-wasm); the data schema enforces the form, and malformed ones never apply.

exception_matches(e) if e.digest == artifact.digest

exception_matches(e) if e.uri == artifact.uri

exception_well_formed(e) if {
	is_string(e.approvedBy)
	e.approvedBy != ""
	is_string(e.reason)
	e.reason != ""
	is_string(e.expires)
	count(e.expires) == 20
	endswith(e.expires, "Z")
	is_array(e.waive)
}

applicable_exception(id) if {
	e := data.modelgate_config.exceptions[id]
	exception_well_formed(e)
	exception_matches(e)
	input.context.time < e.expires
}

exceptions_applied contains {
	"id": id,
	"approvedBy": e.approvedBy,
	"reason": e.reason,
	"expires": e.expires,
	"waived": waived_codes,
} if {
	some id
	applicable_exception(id)
	e := data.modelgate_config.exceptions[id]
	waived_codes := sort({r.code | some r in violations; not unwaivable[r.code]; r.code in e.waive})
	count(waived_codes) > 0
}

warnings contains reason("EXCEPTION_APPLIED", msg) if {
	some x in exceptions_applied
	msg := sprintf("%s: exception %s (approved by %s: %s; expires %s) waives %s", [artifact_name, x.id, x.approvedBy, x.reason, x.expires, concat(", ", x.waived)])
}

warnings contains reason("EXCEPTION_EXPIRED", msg) if {
	some id, e in data.modelgate_config.exceptions
	exception_matches(e)
	exception_well_formed(e)
	input.context.time >= e.expires
	msg := sprintf("%s: exception %s expired at %s and no longer applies", [artifact_name, id, e.expires])
}

warnings contains reason("EXCEPTION_MALFORMED", msg) if {
	some id, e in data.modelgate_config.exceptions
	exception_matches(e)
	not exception_well_formed(e)
	msg := sprintf("%s: exception %s is ignored: it needs approvedBy, reason, waive and expires (YYYY-MM-DDTHH:MM:SSZ)", [artifact_name, id])
}
