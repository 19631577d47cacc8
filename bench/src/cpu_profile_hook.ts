// Loaded with NODE_OPTIONS=--import=<this file> (Node 20 refuses --cpu-prof in NODE_OPTIONS): profiles the whole
// life of each Node process of a sandbox and writes <TSVISOR_CPU_PROFILE_DIR>/<pid>.cpuprofile when it exits.
// The inspector session is on the same thread, so post() calls back synchronously, also inside an exit handler.
import fs from 'node:fs';
import { Session } from 'node:inspector';
import path from 'node:path';

const dir = process.env.TSVISOR_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 100 });
  session.post('Profiler.start');
  process.on('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) fs.writeFileSync(path.join(dir, `${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
