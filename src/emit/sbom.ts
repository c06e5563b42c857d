/**
 * The SBOM of a training environment: a CycloneDX 1.6 JSON document about a pushed model, built with
 * `@cyclonedx/cyclonedx-library` and validated against the CycloneDX 1.6 JSON schema before it is
 * signed.
 *
 * Owns: `CYCLONEDX_BOM_PREDICATE` (the in-toto predicateType, as cosign's `--type cyclonedx`) and
 * `trainingEnvironmentSbom`: the model as `metadata.component` (machine-learning-model, its manifest
 * digest as SHA-256 hash), then what the run can see: the packages its lockfiles pin
 * (`environment-packages.ts`, with purls and, where recorded, licences), the training container (by
 * digest), the NVIDIA driver, CUDA and GPUs (`gpu-info.ts`), and the runtimes `attest run` records
 * (node, python, modelgate). Component refs and the serial number are derived from the content, so
 * the same environment gives the same document. A document the schema refuses is an SBOM error,
 * never signed.
 */
import { createHash } from 'node:crypto';
import * as CDX from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';
import { isSpdxExpression } from '../dataset/attestation.ts';
import type { Digest } from '../oci/digest.ts';
import type { EnvironmentPackage } from './environment-packages.ts';
import { EmitError } from './errors.ts';
import type { GpuInfo } from './gpu-info.ts';

export const CYCLONEDX_BOM_PREDICATE = 'https://cyclonedx.org/bom';
const SPEC = CDX.Spec.Spec1dot6;

export interface TrainingEnvironment {
  /** The model the SBOM is about: repository (host/path) and manifest digest. */
  readonly model: { readonly name: string; readonly digest: Digest };
  readonly packages: readonly EnvironmentPackage[];
  /** Training image, `host/repo@sha256:…`. */
  readonly container?: string;
  readonly gpus: readonly GpuInfo[];
  readonly cudaVersion?: string;
  /** Runtime name → version (node, python, modelgate). */
  readonly runtimes: Readonly<Record<string, string>>;
}

function purlOf(p: EnvironmentPackage): PackageURL {
  const scoped = p.ecosystem === 'npm' && p.name.startsWith('@') ? p.name.split('/') : undefined;
  return scoped !== undefined && scoped.length === 2
    ? new PackageURL('npm', scoped[0], scoped[1]!, p.version, undefined, undefined)
    : new PackageURL(p.ecosystem, undefined, p.name, p.version, undefined, undefined);
}

function licenseOf(text: string): CDX.Models.License {
  // Not an SPDX expression: e.g. "SEE LICENSE IN LICENSE.md", kept as a named licence.
  return isSpdxExpression(text) ? new CDX.Models.LicenseExpression(text) : new CDX.Models.NamedLicense(text);
}

function packageComponent(p: EnvironmentPackage): CDX.Models.Component {
  const purl = purlOf(p);
  const group = purl.namespace ?? undefined; // npm scope, as CycloneDX's own npm tooling writes it
  const component = new CDX.Models.Component(CDX.Enums.ComponentType.Library, purl.name, {
    version: p.version,
    purl: purl.toString(),
    bomRef: purl.toString(),
    ...(group === undefined ? {} : { group }),
  });
  if (p.license !== undefined) component.licenses.add(licenseOf(p.license));
  component.properties.add(new CDX.Models.Property('modelgate:lockfile', p.lockfile));
  return component;
}

function containerComponent(image: string): CDX.Models.Component {
  const at = image.lastIndexOf('@');
  const name = at < 0 ? image : image.slice(0, at);
  const digest = at < 0 ? undefined : image.slice(at + 1);
  const component = new CDX.Models.Component(CDX.Enums.ComponentType.Container, name, { bomRef: `container:${image}`, ...(digest === undefined ? {} : { version: digest }) });
  if (digest?.startsWith('sha256:')) component.hashes.set(CDX.Enums.HashAlgorithm['SHA-256'], digest.slice('sha256:'.length));
  return component;
}

function hostComponents(env: TrainingEnvironment): CDX.Models.Component[] {
  const components: CDX.Models.Component[] = [];
  const drivers = [...new Set(env.gpus.map((g) => g.driverVersion).filter((v) => v !== ''))];
  for (const version of drivers) components.push(new CDX.Models.Component(CDX.Enums.ComponentType.DeviceDriver, 'nvidia-driver', { version, bomRef: `driver:nvidia@${version}` }));
  if (env.cudaVersion !== undefined) components.push(new CDX.Models.Component(CDX.Enums.ComponentType.Platform, 'cuda', { version: env.cudaVersion, bomRef: `platform:cuda@${env.cudaVersion}` }));
  const byModel = new Map<string, GpuInfo[]>();
  for (const gpu of env.gpus) byModel.set(gpu.name, [...(byModel.get(gpu.name) ?? []), gpu]);
  for (const [name, gpus] of byModel) {
    const device = new CDX.Models.Component(CDX.Enums.ComponentType.Device, name, { bomRef: `device:${name}` });
    device.properties.add(new CDX.Models.Property('modelgate:gpu:count', String(gpus.length)));
    device.properties.add(new CDX.Models.Property('modelgate:gpu:computeCapability', gpus[0]!.computeCapability));
    device.properties.add(new CDX.Models.Property('modelgate:gpu:memoryTotal', gpus[0]!.memoryTotal));
    components.push(device);
  }
  for (const [name, version] of Object.entries(env.runtimes)) {
    components.push(new CDX.Models.Component(CDX.Enums.ComponentType.Platform, name, { version, bomRef: `runtime:${name}@${version}` }));
  }
  return components;
}

/** A UUID (RFC 4122 layout, version 5 bits) derived from `text`: the same environment, the same serial. */
function contentUuid(text: string): string {
  const hex = createHash('sha256').update(text).digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The CycloneDX 1.6 SBOM (parsed JSON) of `env`, validated against the schema. */
export async function trainingEnvironmentSbom(env: TrainingEnvironment): Promise<Record<string, unknown>> {
  const bom = new CDX.Models.Bom();
  const model = new CDX.Models.Component(CDX.Enums.ComponentType.MachineLearningModel, env.model.name, { version: env.model.digest, bomRef: `model:${env.model.digest}` });
  model.hashes.set(CDX.Enums.HashAlgorithm['SHA-256'], env.model.digest.replace(/^sha256:/, ''));
  bom.metadata.component = model;
  bom.metadata.tools.components.add(new CDX.Models.Component(CDX.Enums.ComponentType.Application, 'modelgate', { version: env.runtimes.modelgate ?? 'unknown', bomRef: 'tool:modelgate' }));
  for (const p of env.packages) bom.components.add(packageComponent(p));
  if (env.container !== undefined) bom.components.add(containerComponent(env.container));
  for (const c of hostComponents(env)) bom.components.add(c);
  const serializer = new CDX.Serialize.JsonSerializer(new CDX.Serialize.JSON.Normalize.Factory(SPEC));
  const unnumbered = serializer.serialize(bom, { sortLists: true });
  bom.serialNumber = `urn:uuid:${contentUuid(unnumbered)}`;
  const json = serializer.serialize(bom, { sortLists: true });
  let problems: unknown;
  try {
    problems = await new CDX.Validation.JsonStrictValidator(SPEC.version).validate(json);
  } catch (err) {
    throw new EmitError('SBOM', `the CycloneDX ${SPEC.version} schema cannot be loaded: ${(err as Error).message}`, { cause: err });
  }
  if (problems !== null && problems !== undefined) throw new EmitError('SBOM', `the generated SBOM does not validate against CycloneDX ${SPEC.version}: ${JSON.stringify(problems).slice(0, 500)}`);
  return JSON.parse(json) as Record<string, unknown>;
}
