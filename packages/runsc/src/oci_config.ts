// Reads and validates a bundle's config.json (OCI runtime-spec bundle.md, config.md). Validation happens here
// once, at the edge: the schema check names the JSON path of every bad field, then the checks a schema cannot
// express (the root directory exists, a process is given). Everything downstream trusts the returned OciSpec.
import fs from 'node:fs';
import path from 'node:path';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { validate as generatedValidate } from './oci_config_validator.generated.js';
import type { OciSpec } from './oci_spec.js';
import { RuntimeError } from './runtime_error.js';

// Compiled ahead of time from oci_config_schema.ts (oci_config_validator_codegen.ts): loading ajv's compiler and
// compiling the schema here cost each `runsc create`/`run` ~80 ms.
function validator(): ValidateFunction {
  return generatedValidate as unknown as ValidateFunction;
}

/** A JSON pointer (/mounts/0/destination) as a readable path (mounts[0].destination). */
export function jsonPointerToPath(pointer: string): string {
  if (pointer === '') return '';
  let out = '';
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^[0-9]+$/.test(key)) out += `[${key}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}

function describeValue(value: unknown): string {
  let text = JSON.stringify(value) ?? String(value);
  if (text.length > 40) text = `${text.slice(0, 37)}...`;
  return text;
}

function describeError(error: ErrorObject): { path: string; message: string } {
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty: string }).missingProperty;
    const pointer = `${error.instancePath}/${missing.replace(/~/g, '~0').replace(/\//g, '~1')}`;
    const properties = (error.parentSchema as { properties?: Record<string, { description?: string }> }).properties;
    const expected = properties?.[missing]?.description;
    return {
      path: jsonPointerToPath(pointer),
      message: expected ? `is required and must be ${expected}` : 'is required',
    };
  }
  const expected = (error.parentSchema as { description?: string } | undefined)?.description;
  const message = expected ? `must be ${expected}` : (error.message ?? 'is invalid');
  return { path: jsonPointerToPath(error.instancePath), message: `${message} (got ${describeValue(error.data)})` };
}

/**
 * Checks a parsed config.json against the OCI runtime-spec; returns one line per bad field
 * ("process.args: must be a non-empty array of strings (got [])"), empty if the config is valid.
 */
export function validateOciConfig(config: unknown): string[] {
  const validate = validator();
  if (validate(config)) return [];
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const error of validate.errors ?? []) {
    const { path: where, message } = describeError(error);
    // One message per field: an enum failure on a value of the wrong type would otherwise report twice.
    if (seen.has(where)) continue;
    seen.add(where);
    lines.push(where === '' ? message : `${where}: ${message}`);
  }
  return lines;
}

/** Throws EBADCONFIG naming every bad field if `config` is not a valid runtime-spec config. */
export function assertValidOciConfig(config: unknown, source = 'config.json'): asserts config is OciSpec {
  const problems = validateOciConfig(config);
  if (problems.length > 0) {
    throw new RuntimeError('EBADCONFIG', problems.map((line) => `${source}: ${line}`).join('\n'));
  }
}

export interface LoadedBundle {
  /** Absolute bundle directory. */
  bundle: string;
  spec: OciSpec & { process: NonNullable<OciSpec['process']>; root: NonNullable<OciSpec['root']> };
  /** Absolute path of the root file system (root.path resolved against the bundle, bundle.md). */
  rootfs: string;
}

/** Loads <bundle>/config.json, validates it and resolves the rootfs; every failure is a RuntimeError. */
export function loadBundle(bundleDir: string): LoadedBundle {
  const bundle = path.resolve(bundleDir);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(bundle);
  } catch {
    throw new RuntimeError('ENOBUNDLE', `bundle ${bundle} does not exist`);
  }
  if (!stat.isDirectory()) throw new RuntimeError('ENOBUNDLE', `bundle ${bundle} is not a directory`);
  const configPath = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = fs.readFileSync(configPath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new RuntimeError(
      'EBADCONFIG',
      code === 'ENOENT'
        ? `config.json: not found in bundle ${bundle} (create one with "runsc spec --bundle ${bundleDir}")`
        : `config.json: cannot read ${configPath}: ${code ?? String(err)}`,
    );
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (err) {
    throw new RuntimeError('EBADCONFIG', `config.json: not valid JSON: ${(err as Error).message}`);
  }
  assertValidOciConfig(config);
  if (config.process === undefined) {
    throw new RuntimeError('EBADCONFIG', 'config.json: process: is required to run a container');
  }
  const root = config.root!;
  const rootfs = path.resolve(bundle, root.path);
  let rootStat: fs.Stats | undefined;
  try {
    rootStat = fs.statSync(rootfs);
  } catch {
    rootStat = undefined;
  }
  if (!rootStat?.isDirectory()) {
    throw new RuntimeError('EBADCONFIG', `config.json: root.path: ${rootfs} is not an existing directory`);
  }
  return { bundle, spec: config as LoadedBundle['spec'], rootfs };
}
