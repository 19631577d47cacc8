// runsc features: the runtime-spec "Features structure" (features.md) that containerd and other callers read to
// learn what the runtime supports. A property left out means "unknown"; false means "not supported": tsvisor
// puts nothing in host cgroups, so it says so rather than letting callers assume.
import { OCI_VERSION } from './oci_spec.js';

export function featuresCommand(runscVersion: string): string {
  const features = {
    ociVersionMin: '1.0.0',
    ociVersionMax: OCI_VERSION,
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    linux: {
      // Every container gets all of these from the sentry, which emulates them rather than asking the host.
      namespaces: ['pid', 'network', 'mount', 'ipc', 'uts', 'cgroup'],
      cgroup: { v1: false, v2: false, systemd: false, systemdUser: false, rdma: false },
      apparmor: { enabled: false },
      selinux: { enabled: false },
    },
    annotations: { 'org.tsvisor.runsc.version': runscVersion },
  };
  return `${JSON.stringify(features, null, 4)}\n`;
}
