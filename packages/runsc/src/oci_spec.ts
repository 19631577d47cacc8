// Types of the OCI runtime-spec config.json fields tsvisor reads (runtime-spec config.md, config-linux.md).
// The file is validated once by oci_config.ts against oci_config_schema.ts; past that edge these types are trusted.
// Unknown fields are kept as they are: the spec says runtimes MUST ignore properties they do not know.

export interface OciUser {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids?: number[];
}

export interface OciCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface OciRlimit {
  type: string;
  soft: number;
  hard: number;
}

export interface OciProcess {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: OciUser;
  args: string[];
  env?: string[];
  cwd: string;
  capabilities?: OciCapabilities;
  rlimits?: OciRlimit[];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
  oomScoreAdj?: number;
  selinuxLabel?: string;
}

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

/** config.md "POSIX-platform Hooks": one program to run at a lifecycle point. */
export interface OciHook {
  path: string;
  args?: string[];
  env?: string[];
  /** Seconds before the hook is aborted. */
  timeout?: number;
}

export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export type OciNamespaceType = 'pid' | 'network' | 'mount' | 'ipc' | 'uts' | 'user' | 'cgroup' | 'time';

export interface OciNamespace {
  type: OciNamespaceType;
  path?: string;
}

export interface OciLinux {
  namespaces?: OciNamespace[];
  uidMappings?: OciIdMapping[];
  gidMappings?: OciIdMapping[];
  resources?: Record<string, unknown>;
  cgroupsPath?: string;
  sysctl?: Record<string, string>;
  maskedPaths?: string[];
  readonlyPaths?: string[];
  seccomp?: Record<string, unknown>;
  rootfsPropagation?: string;
  devices?: Record<string, unknown>[];
  [field: string]: unknown;
}

export interface OciSpec {
  ociVersion: string;
  process?: OciProcess;
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  domainname?: string;
  mounts?: OciMount[];
  hooks?: Record<string, unknown>;
  linux?: OciLinux;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

/** The runtime-spec version this runtime writes (runsc spec) and reports (runsc state). */
export const OCI_VERSION = '1.2.0';
