import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultSpec, rootlessSpec } from './default_spec.js';
import { jsonPointerToPath, loadBundle, validateOciConfig } from './oci_config.js';
import { GENERATED_VALIDATOR_PATH, generateOciConfigValidatorSource } from './oci_config_validator_codegen.js';
import { RuntimeError } from './runtime_error.js';

function withChange(change: (spec: Record<string, any>) => void): unknown {
  const spec = JSON.parse(JSON.stringify(defaultSpec())) as Record<string, any>;
  change(spec);
  return spec;
}

describe('validateOciConfig', () => {
  it('accepts runc-style default and rootless specs', () => {
    expect(validateOciConfig(defaultSpec())).toEqual([]);
    expect(validateOciConfig(rootlessSpec(1000, 1000))).toEqual([]);
  });

  it('allows unknown fields, as the spec requires', () => {
    expect(validateOciConfig(withChange((s) => ((s.vendorThing = { a: 1 }), (s.process.extra = true))))).toEqual([]);
  });

  it('names the path of a bad field', () => {
    expect(validateOciConfig(withChange((s) => (s.process.args = []))))
      .toEqual(['process.args: must be a non-empty array of strings (got [])']);
    expect(validateOciConfig(withChange((s) => (s.process.args = ['sh', 3]))))
      .toEqual(['process.args[1]: must be a string (got 3)']);
    expect(validateOciConfig(withChange((s) => (s.mounts[2].destination = 'dev/pts'))))
      .toEqual(['mounts[2].destination: must be an absolute path (starting with "/") (got "dev/pts")']);
    expect(validateOciConfig(withChange((s) => (s.process.user.uid = -1))))
      .toEqual(['process.user.uid: must be an integer from 0 to 4294967295 (got -1)']);
    expect(validateOciConfig(withChange((s) => (s.linux.namespaces[0].type = 'pidns'))))
      .toEqual(['linux.namespaces[0].type: must be one of pid, network, mount, ipc, uts, user, cgroup, time (got "pidns")']);
    expect(validateOciConfig(withChange((s) => (s.annotations = { 'org.example.key': 5 }))))
      .toEqual(['annotations["org.example.key"]: must be a string (got 5)']);
    expect(validateOciConfig(withChange((s) => (s.process.env = ['PATH=/bin', 'NOEQUALS']))))
      .toEqual(['process.env[1]: must be a "NAME=value" string (got "NOEQUALS")']);
  });

  it('reports missing required fields with what they must be', () => {
    expect(validateOciConfig(withChange((s) => delete s.process.cwd)))
      .toEqual(['process.cwd: is required and must be an absolute path (starting with "/")']);
    expect(validateOciConfig(withChange((s) => delete s.ociVersion)))
      .toEqual(['ociVersion: is required and must be a SemVer version string like "1.2.0"']);
  });

  it('reports every bad field, once each', () => {
    const problems = validateOciConfig(withChange((s) => ((s.hostname = 7), (s.root.readonly = 'yes'))));
    expect(problems).toEqual(['root.readonly: must be true or false (got "yes")', 'hostname: must be a string (got 7)']);
  });

  it('rejects non-objects', () => {
    expect(validateOciConfig([1])).toEqual(['must be a JSON object (got [1])']);
  });
});

describe('jsonPointerToPath', () => {
  it('renders indexes, identifiers and odd keys', () => {
    expect(jsonPointerToPath('/mounts/0/options/3')).toBe('mounts[0].options[3]');
    expect(jsonPointerToPath('/annotations/a~1b')).toBe('annotations["a/b"]');
    expect(jsonPointerToPath('')).toBe('');
  });
});

describe('loadBundle', () => {
  const dirs: string[] = [];
  const bundle = (config?: string, rootfs = true): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-bundle-'));
    dirs.push(dir);
    if (config !== undefined) fs.writeFileSync(path.join(dir, 'config.json'), config);
    if (rootfs) fs.mkdirSync(path.join(dir, 'rootfs'));
    return dir;
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
  });
  const failure = (fn: () => unknown): RuntimeError => {
    try {
      fn();
    } catch (err) {
      return err as RuntimeError;
    }
    throw new Error('expected a failure');
  };

  it('loads a valid bundle and resolves the rootfs against it', () => {
    const dir = bundle(JSON.stringify(defaultSpec()));
    const loaded = loadBundle(dir);
    expect(loaded.rootfs).toBe(path.join(dir, 'rootfs'));
    expect(loaded.spec.process.args).toEqual(['sh']);
  });

  it('fails clearly on a missing bundle, config, bad JSON, bad field, missing rootfs', () => {
    expect(failure(() => loadBundle('/nonexistent/tsvisor-bundle')).code).toBe('ENOBUNDLE');
    const noConfig = failure(() => loadBundle(bundle()));
    expect([noConfig.code, noConfig.message]).toEqual(['EBADCONFIG', expect.stringContaining('config.json: not found')]);
    const badJson = failure(() => loadBundle(bundle('{"ociVersion": ')));
    expect(badJson.message).toMatch(/^config.json: not valid JSON/);
    const badField = failure(() => loadBundle(bundle(JSON.stringify(withChange((s) => (s.process.args = 'sh'))))));
    expect(badField.message).toBe('config.json: process.args: must be a non-empty array of strings (got "sh")');
    const noRootfs = failure(() => loadBundle(bundle(JSON.stringify(defaultSpec()), false)));
    expect(noRootfs.message).toMatch(/^config.json: root.path: .*rootfs is not an existing directory$/);
    const noProcess = failure(() => loadBundle(bundle(JSON.stringify(withChange((s) => delete s.process)))));
    expect(noProcess.message).toBe('config.json: process: is required to run a container');
  });
});

describe('the precompiled validator', () => {
  it('matches what ajv generates from the current schema (regenerate with oci_config_validator_codegen)', () => {
    expect(fs.readFileSync(GENERATED_VALIDATOR_PATH, 'utf8')).toBe(generateOciConfigValidatorSource());
  });
});
