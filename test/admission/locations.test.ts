// Model locations of KServe resources, each with its field path: every field of
// /work/shared/reference/models-kserve-oms.md §2.1 that names a model, and fields that are present but
// not URI strings reported as malformed (fail closed), never skipped.
import t from 'tap';
import { extractLocations, isAdmittedKind } from '../../src/admission/locations.ts';

const env = (value: unknown) => [{ name: 'OTHER', value: 'x' }, { name: 'STORAGE_URI', value }];

t.test('InferenceService: every storage field, with its path', async (t) => {
  const isvc = {
    apiVersion: 'serving.kserve.io/v1beta1',
    kind: 'InferenceService',
    metadata: { name: 'm', namespace: 'ns' },
    spec: {
      predictor: {
        minReplicas: 1,
        model: { modelFormat: { name: 'sklearn' }, storageUri: 'oci://r/model@sha256:1', resources: {} },
        sklearn: { storageUri: 's3://bucket/sk' },
        storageUris: [{ uri: 'oci://r/a', mountPath: '/mnt/models/a' }, { uri: 'hf://org/b', mountPath: '/mnt/models/b' }],
        containers: [{ name: 'kserve-container', image: 'img', env: env('gs://bucket/custom') }],
        workerSpec: { tensorParallelSize: 2, containers: [{ name: 'worker-container', env: env('pvc://claim/w') }] },
      },
      transformer: { storageUris: [{ uri: 'oci://r/t' }], containers: [{ name: 'transformer', env: env('https://h/t.tar') }] },
      explainer: { art: { type: 'SquareAttack', storageUri: 'oci://r/art' }, storageUris: [{ uri: 'oci://r/e' }] },
      canary: [{ trafficPercent: 10, predictor: { model: { storageUri: 'oci://r/canary' } } }],
    },
  };
  t.same(extractLocations('InferenceService', isvc), [
    { kind: 'uri', uri: 'oci://r/model@sha256:1', fieldPath: 'spec.predictor.model.storageUri' },
    { kind: 'uri', uri: 's3://bucket/sk', fieldPath: 'spec.predictor.sklearn.storageUri' },
    { kind: 'uri', uri: 'oci://r/a', fieldPath: 'spec.predictor.storageUris[0].uri' },
    { kind: 'uri', uri: 'hf://org/b', fieldPath: 'spec.predictor.storageUris[1].uri' },
    { kind: 'uri', uri: 'gs://bucket/custom', fieldPath: 'spec.predictor.containers[0].env[1].value' },
    { kind: 'uri', uri: 'pvc://claim/w', fieldPath: 'spec.predictor.workerSpec.containers[0].env[1].value' },
    { kind: 'uri', uri: 'oci://r/t', fieldPath: 'spec.transformer.storageUris[0].uri' },
    { kind: 'uri', uri: 'https://h/t.tar', fieldPath: 'spec.transformer.containers[0].env[1].value' },
    { kind: 'uri', uri: 'oci://r/art', fieldPath: 'spec.explainer.art.storageUri' },
    { kind: 'uri', uri: 'oci://r/e', fieldPath: 'spec.explainer.storageUris[0].uri' },
    { kind: 'uri', uri: 'oci://r/canary', fieldPath: 'spec.canary[0].predictor.model.storageUri' },
  ]);
});

t.test('TrainedModel and LLMInferenceService', async (t) => {
  t.same(extractLocations('TrainedModel', { spec: { inferenceService: 'parent', model: { framework: 'sklearn', storageUri: 'gs://b/m', memory: '1Gi' } } }), [
    { kind: 'uri', uri: 'gs://b/m', fieldPath: 'spec.model.storageUri' },
  ]);
  t.same(
    extractLocations('LLMInferenceService', { spec: { model: { uri: 'oci://r/llm@sha256:2', name: 'llama', lora: { adapters: [{ uri: 'hf://org/lora-a' }, { uri: 's3://b/lora-b' }] } } } }),
    [
      { kind: 'uri', uri: 'oci://r/llm@sha256:2', fieldPath: 'spec.model.uri' },
      { kind: 'uri', uri: 'hf://org/lora-a', fieldPath: 'spec.model.lora.adapters[0].uri' },
      { kind: 'uri', uri: 's3://b/lora-b', fieldPath: 'spec.model.lora.adapters[1].uri' },
    ],
  );
});

t.test('present but not a URI string: malformed, not skipped; absent: nothing', async (t) => {
  t.same(
    extractLocations('InferenceService', {
      spec: { predictor: { model: { storageUri: 42 }, storageUris: [{ mountPath: '/mnt' }, { uri: '  ' }], containers: [{ env: [{ name: 'STORAGE_URI', valueFrom: { secretKeyRef: {} } }] }] } },
    }),
    [
      { kind: 'malformed', fieldPath: 'spec.predictor.model.storageUri' },
      { kind: 'malformed', fieldPath: 'spec.predictor.storageUris[1].uri' },
      { kind: 'malformed', fieldPath: 'spec.predictor.containers[0].env[0].value' },
    ],
  );
  t.same(extractLocations('InferenceService', { metadata: {} }), []);
  t.same(extractLocations('InferenceService', null), []);
  t.same(extractLocations('LLMInferenceService', { spec: { model: { lora: { adapters: 'x' } } } }), []);
  t.equal(isAdmittedKind('InferenceService'), true);
  t.equal(isAdmittedKind('Pod'), false);
});

t.test('a model named through a storage Secret (storage: {key, path}) is reported, not skipped', async (t) => {
  const isvc = { spec: { predictor: { model: { modelFormat: { name: 'sklearn' }, storage: { key: 'localMinIO', path: 'sklearn/model.joblib' } } } } };
  t.same(extractLocations('InferenceService', isvc), [{ kind: 'indirect', fieldPath: 'spec.predictor.model.storage' }]);
});
