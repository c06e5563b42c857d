/**
 * CNCF ModelPack (`modelpack/model-spec` v1) vocabulary: media types, annotations, the config
 * document, and which layer media type a model file gets.
 *
 * Owns: the mapping from a file's relative path to its ModelPack layer media type. Every file is one
 * uncompressed `.raw` layer (the spec's guidance for weights; it also makes each layer digest the
 * SHA-256 of the file itself, the same digest an OMS model signature records).
 * Classification follows modctl's glob lists in spirit (`pkg/modelfile/constants.go`); files we cannot
 * classify are tagged `weight.config` (model-adjacent files) rather than refused.
 */
import { extname, posix } from 'node:path';
import type { Digest } from '../oci/digest.ts';

export const ModelPackMediaType = {
  ARTIFACT: 'application/vnd.cncf.model.manifest.v1+json',
  CONFIG: 'application/vnd.cncf.model.config.v1+json',
  WEIGHT_RAW: 'application/vnd.cncf.model.weight.v1.raw',
  WEIGHT_CONFIG_RAW: 'application/vnd.cncf.model.weight.config.v1.raw',
  DOC_RAW: 'application/vnd.cncf.model.doc.v1.raw',
  CODE_RAW: 'application/vnd.cncf.model.code.v1.raw',
  DATASET_RAW: 'application/vnd.cncf.model.dataset.v1.raw',
} as const;

/** Relative path of the file a layer holds (ModelPack `docs/annotations.md`). */
export const FILEPATH_ANNOTATION = 'org.cncf.model.filepath';
/** The ORAS / OCI convention for a layer's file name. */
export const TITLE_ANNOTATION = 'org.opencontainers.image.title';
export const CREATED_ANNOTATION = 'org.opencontainers.image.created';

export type ModelFileKind = 'weight' | 'weight.config' | 'doc' | 'code' | 'dataset';

const RAW_MEDIA_TYPE: Record<ModelFileKind, string> = {
  weight: ModelPackMediaType.WEIGHT_RAW,
  'weight.config': ModelPackMediaType.WEIGHT_CONFIG_RAW,
  doc: ModelPackMediaType.DOC_RAW,
  code: ModelPackMediaType.CODE_RAW,
  dataset: ModelPackMediaType.DATASET_RAW,
};

const WEIGHT_EXTENSIONS = new Set([
  '.safetensors', '.gguf', '.ggml', '.bin', '.pt', '.pth', '.ckpt', '.onnx', '.h5', '.keras', '.pb',
  '.tflite', '.msgpack', '.npz', '.npy', '.pkl', '.joblib', '.mlmodel', '.engine', '.plan', '.nemo',
]);
const WEIGHT_CONFIG_NAMES = new Set(['tokenizer.model', 'spiece.model', 'sentencepiece.bpe.model', 'vocab.txt', 'merges.txt']);
const WEIGHT_CONFIG_EXTENSIONS = new Set(['.json', '.yaml', '.yml', '.toml', '.ini', '.cfg', '.tiktoken', '.jinja']);
const DOC_EXTENSIONS = new Set(['.md', '.txt', '.rst', '.pdf', '.html']);
const DOC_PREFIXES = ['readme', 'license', 'licence', 'notice', 'copying', 'model_card', 'modelcard'];
const CODE_EXTENSIONS = new Set(['.py', '.ipynb', '.sh', '.js', '.ts', '.go', '.rs', '.c', '.cc', '.cpp', '.h', '.java', '.lua', '.r']);
const DATASET_EXTENSIONS = new Set(['.csv', '.tsv', '.parquet', '.jsonl', '.arrow']);

/** The ModelPack kind of a file, from its relative path. */
export function classifyModelFile(relativePath: string): ModelFileKind {
  const name = posix.basename(relativePath).toLowerCase();
  const ext = extname(name);
  if (WEIGHT_EXTENSIONS.has(ext)) return 'weight';
  if (WEIGHT_CONFIG_NAMES.has(name) || name.startsWith('vocab.')) return 'weight.config';
  if (DOC_PREFIXES.some((p) => name.startsWith(p))) return 'doc';
  if (DATASET_EXTENSIONS.has(ext)) return 'dataset';
  if (WEIGHT_CONFIG_EXTENSIONS.has(ext)) return 'weight.config';
  if (DOC_EXTENSIONS.has(ext)) return 'doc';
  if (CODE_EXTENSIONS.has(ext)) return 'code';
  return 'weight.config';
}

export function rawMediaType(kind: ModelFileKind): string {
  return RAW_MEDIA_TYPE[kind];
}

/** The model format ModelPack's config records, guessed from the weight files present. */
export function detectFormat(relativePaths: readonly string[]): string | undefined {
  const exts = new Set(relativePaths.map((p) => extname(p).toLowerCase()));
  if (exts.has('.safetensors')) return 'safetensors';
  if (exts.has('.gguf')) return 'gguf';
  if (exts.has('.onnx')) return 'onnx';
  if (exts.has('.pt') || exts.has('.pth') || exts.has('.bin')) return 'pt';
  return undefined;
}

/** The ModelPack config document (`docs/config.md`), the fields we fill in. */
export interface ModelPackConfig {
  readonly descriptor: {
    readonly name?: string;
    readonly version?: string;
    readonly createdAt?: string;
  };
  readonly config: {
    readonly format?: string;
  };
  readonly modelfs: {
    readonly type: 'layers';
    /** Digests of the uncompressed layers; for `.raw` layers the layer digests themselves. */
    readonly diffIds: readonly Digest[];
  };
}
