#!/usr/bin/env bash
# README section 3, end to end: what a training pipeline runs to sign and push a model, then the
# check a cluster makes (`modelgate verify`, the webhook's and init's pipeline) against the policy
# data that trusts this pipeline. Usage, from a built checkout:
#
#   npm run example:training -- REGISTRY [WORK_DIR]      # REGISTRY: host:port[/prefix], e.g. 127.0.0.1:5000
#
# (or REGISTRY in the environment). Each run works in a fresh WORK_DIR (default: a new temporary
# directory) and publishes under its own repositories, REGISTRY/runs/RUN_ID/… (RUN_ID: the UTC time
# and PID, or $RUN_ID), so re-running never finds an earlier run's signatures and provenance attached
# to the same digest. The job's sources are a git checkout, as in CI: WORK_DIR is made one whose
# `origin` is https://github.com/acme/reviews-model, so the provenance records that repository and
# commit and the policy data allowlists it. The key pair is made once per run (in CI: a secret).
# Exits 0 when `modelgate verify` allows the model, 1 otherwise.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
registry=${1:-${REGISTRY:-}}
if [ -z "$registry" ]; then
  echo "usage: npm run example:training -- REGISTRY [WORK_DIR]   (REGISTRY: host:port[/prefix])" >&2
  exit 2
fi
work=${2:-$(mktemp -d "${TMPDIR:-/tmp}/modelgate-training-job-XXXXXX")}
run_id=${RUN_ID:-$(date -u +%Y%m%d-%H%M%S)-$$}
base="$registry/runs/$run_id"

# `modelgate` is the checkout's CLI unless one is installed (npm run puts the pinned Node 24 first on PATH).
if ! command -v modelgate >/dev/null 2>&1; then
  modelgate() { node "$repo/dist/cli/main.js" "$@"; }
fi
export MODELGATE_PASSWORD=${MODELGATE_PASSWORD:-training-job-example}

# Print each command as the README transcript shows it, then run it.
say() { printf '$ %s\n' "$*" >&2; }

mkdir -p "$work"
cp -R "$here/data" "$here/train.js" "$here/hparams.json" "$work/"
cd "$work"
git init -q
git remote add origin https://github.com/acme/reviews-model.git
git add data train.js hparams.json
git -c user.name=ci -c user.email=ci@example.com commit -q -m "reviews model training job"
echo "# in $work (a git checkout of https://github.com/acme/reviews-model), publishing under $base" >&2

say "KEY_ID=\$(modelgate keygen --output-key-prefix ci)"
KEY_ID=$(modelgate keygen --output-key-prefix ci)
echo "$KEY_ID" >&2
say "modelgate dataset manifest data/ --output-file dataset.json"
modelgate dataset manifest data/ --output-file dataset.json
say "modelgate dataset sign dataset.json --key ci.key"
modelgate dataset sign dataset.json --key ci.key
RAW=sha256:$(cat data/*.jsonl | sha256sum | cut -c1-64)
say "modelgate dataset attest --manifest dataset.json --source https://example.com/reviews-raw.tar=$RAW --step dedup --step pii-removal --license CC-BY-4.0 --key ci.key --output-file dataset.att.json"
modelgate dataset attest --manifest dataset.json --source "https://example.com/reviews-raw.tar=$RAW" --step dedup --step pii-removal --license CC-BY-4.0 --key ci.key --output-file dataset.att.json
say "DATASET=\$(modelgate dataset push dataset.json oci://$base/datasets/reviews:v1 --bundle dataset.json.sigstore.json --bundle dataset.att.json)"
DATASET=$(modelgate dataset push dataset.json "oci://$base/datasets/reviews:v1" --bundle dataset.json.sigstore.json --bundle dataset.att.json)
echo "$DATASET" >&2
say "modelgate attest run --dataset oci://$base/datasets/reviews@\$DATASET --seed 42 --params hparams.json --outputs model/ --key ci.key --builder-id https://ci.example.com/gpu-pool -- node train.js --data data --out model --seed 42 --params hparams.json"
modelgate attest run --dataset "oci://$base/datasets/reviews@$DATASET" --seed 42 --params hparams.json --outputs model/ --key ci.key --builder-id https://ci.example.com/gpu-pool -- node train.js --data data --out model --seed 42 --params hparams.json
say "MODEL=\$(modelgate push model/ oci://$base/models/reviews:v1 --dataset-ref oci://$base/datasets/reviews@\$DATASET --hyperparams @hparams.json)"
MODEL=$(modelgate push model/ "oci://$base/models/reviews:v1" --dataset-ref "oci://$base/datasets/reviews@$DATASET" --hyperparams @hparams.json)
echo "$MODEL" >&2
say "modelgate sign oci://$base/models/reviews@\$MODEL --key ci.key"
modelgate sign "oci://$base/models/reviews@$MODEL" --key ci.key >/dev/null
say "modelgate attest attach oci://$base/models/reviews@\$MODEL --predicate model.provenance.sigstore.json --key ci.key"
modelgate attest attach "oci://$base/models/reviews@$MODEL" --predicate model.provenance.sigstore.json --key ci.key >/dev/null
say "modelgate attest evaluate --model model/ --metrics model/metrics.json --key ci.key --output-file eval.sigstore.json"
modelgate attest evaluate --model model/ --metrics model/metrics.json --key ci.key --output-file eval.sigstore.json >/dev/null
say "modelgate attest attach oci://$base/models/reviews@\$MODEL --predicate eval.sigstore.json --key ci.key"
modelgate attest attach "oci://$base/models/reviews@$MODEL" --predicate eval.sigstore.json --key ci.key >/dev/null

# The policy data that trusts this pipeline: its key (by the id keygen printed), builder, source
# repository, dataset, and an evaluation threshold.
cat > cluster-data.json <<JSON
{
  "modelgate_config": {
    "signers": { "threshold": 1, "keys": { "$KEY_ID": {} }, "identities": {} },
    "provenance": { "required": true, "builders": { "https://ci.example.com/gpu-pool": {} }, "buildTypes": { "https://modelgate.dev/buildtypes/training-run/v1": {} } },
    "sources": { "repositories": { "https://github.com/acme/reviews-model": {} } },
    "datasets": { "oci://$base/datasets/reviews": { "digests": { "$DATASET": {} } } },
    "containers": { "digests": {}, "repositories": {} },
    "revoked": { "digests": {}, "keys": {}, "identities": {} },
    "evaluation": { "required": true, "thresholds": { "trainAccuracy": { "min": 0.9 } } },
    "modelSignature": { "required": false },
    "unverifiable": { "allowed": {} },
    "exceptions": {}
  }
}
JSON
echo "# wrote cluster-data.json (trusts key $KEY_ID, builder https://ci.example.com/gpu-pool, source https://github.com/acme/reviews-model, dataset $DATASET)" >&2
say "modelgate verify oci://$base/models/reviews@\$MODEL --key ci.pub --data cluster-data.json"
modelgate verify "oci://$base/models/reviews@$MODEL" --key ci.pub --data cluster-data.json
