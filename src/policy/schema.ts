/**
 * JSON Schema validation of policy inputs and policy data (ajv, draft 2020-12).
 *
 * Owns: loading policies/schema/{input,data}.v1.schema.json once and the `validatePolicyInput` /
 * `validatePolicyData` guards. The schemas ship in the package's `policies/` folder, found relative
 * to this module both from `src/policy` and from `dist/policy`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { PolicyError } from './errors.ts';
import type { PolicyInput } from './input.ts';

export const SCHEMA_DIR = join(import.meta.dirname, '..', '..', 'policies', 'schema');
export const INPUT_SCHEMA_PATH = join(SCHEMA_DIR, 'input.v1.schema.json');
export const DATA_SCHEMA_PATH = join(SCHEMA_DIR, 'data.v1.schema.json');

let validators: { input: ValidateFunction; data: ValidateFunction } | undefined;

function compiled(): { input: ValidateFunction; data: ValidateFunction } {
  if (!validators) {
    const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
    validators = {
      input: ajv.compile(JSON.parse(readFileSync(INPUT_SCHEMA_PATH, 'utf8')) as object),
      data: ajv.compile(JSON.parse(readFileSync(DATA_SCHEMA_PATH, 'utf8')) as object),
    };
  }
  return validators;
}

export function describeSchemaErrors(errors: readonly ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .slice(0, 5)
    .map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`)
    .join('; ');
}

/** Validate untrusted JSON (e.g. `policy eval --input`) as a policy input; throws INPUT_INVALID. */
export function validatePolicyInput(value: unknown): PolicyInput {
  const validate = compiled().input;
  if (!validate(value)) throw new PolicyError('INPUT_INVALID', `policy input does not match input.v1.schema.json: ${describeSchemaErrors(validate.errors)}`);
  return value as PolicyInput;
}

/** Validate a data document for the default policy; throws DATA_INVALID. */
export function validatePolicyData(value: unknown): void {
  const validate = compiled().data;
  if (!validate(value)) throw new PolicyError('DATA_INVALID', `policy data does not match data.v1.schema.json: ${describeSchemaErrors(validate.errors)}`);
}
