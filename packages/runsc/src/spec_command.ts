// runsc spec: writes a starter config.json into the bundle, refusing to overwrite one (as runc does).
import fs from 'node:fs';
import path from 'node:path';
import { defaultSpec, rootlessSpec } from './default_spec.js';
import { RuntimeError } from './runtime_error.js';

export function specCommand(bundle: string, rootless: boolean): string {
  const dir = path.resolve(bundle);
  if (!fs.existsSync(dir)) throw new RuntimeError('ENOBUNDLE', `bundle ${dir} does not exist`);
  const file = path.join(dir, 'config.json');
  const spec = rootless ? rootlessSpec(process.getuid?.() ?? 0, process.getgid?.() ?? 0) : defaultSpec();
  try {
    fs.writeFileSync(file, `${JSON.stringify(spec, null, '\t')}\n`, { flag: 'wx', mode: 0o666 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new RuntimeError('EEXIST', `File ${file} exists. Remove it first`);
    }
    throw err;
  }
  return file;
}
