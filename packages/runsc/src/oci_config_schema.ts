// JSON schema (draft-07) for the config.json fields tsvisor uses, written from the OCI runtime-spec text
// (config.md, config-linux.md). Every schema carries a `description` phrased as what the value must be
// ("a non-empty array of strings"): oci_config.ts turns a failed check into `<json path>: must be <description>`.
// additionalProperties is left open everywhere because the spec requires runtimes to ignore unknown properties.

type Schema = Record<string, unknown>;

const uint32: Schema = { type: 'integer', minimum: 0, maximum: 4294967295, description: 'an integer from 0 to 4294967295' };
const int64: Schema = { type: 'integer', description: 'an integer' };
const uint64: Schema = { type: 'integer', minimum: 0, description: 'a non-negative integer' };
const str: Schema = { type: 'string', description: 'a string' };
const bool: Schema = { type: 'boolean', description: 'true or false' };
const absolutePath: Schema = { type: 'string', pattern: '^/', description: 'an absolute path (starting with "/")' };
const stringArray: Schema = { type: 'array', items: str, description: 'an array of strings' };
const stringMap: Schema = {
  type: 'object',
  additionalProperties: str,
  description: 'an object whose values are strings',
};

const idMapping: Schema = {
  type: 'object',
  required: ['containerID', 'hostID', 'size'],
  properties: { containerID: uint32, hostID: uint32, size: uint32 },
  description: 'an id mapping object {containerID, hostID, size}',
};

const capabilityList: Schema = {
  type: 'array',
  items: { type: 'string', pattern: '^CAP_[A-Z_]+$', description: 'a capability name like "CAP_CHOWN"' },
  description: 'an array of capability names',
};

const hookList: Schema = {
  type: 'array',
  description: 'an array of hook objects',
  items: {
    type: 'object',
    required: ['path'],
    description: 'a hook object {path, args, env, timeout}',
    properties: {
      path: absolutePath,
      args: stringArray,
      env: { type: 'array', items: { type: 'string', pattern: '^[^=]+=', description: 'a "NAME=value" string' }, description: 'an array of "NAME=value" strings' },
      // config.md: timeout MUST be greater than zero.
      timeout: { type: 'integer', minimum: 1, description: 'a number of seconds greater than zero' },
    },
  },
};

const processSchema: Schema = {
  type: 'object',
  // config.md: cwd and (on POSIX) user are REQUIRED; args needs at least one entry on non-Windows platforms.
  required: ['cwd', 'user', 'args'],
  description: 'an object describing the container process',
  properties: {
    terminal: bool,
    consoleSize: {
      type: 'object',
      required: ['height', 'width'],
      properties: { height: uint32, width: uint32 },
      description: 'an object {height, width}',
    },
    user: {
      type: 'object',
      required: ['uid', 'gid'],
      description: 'an object {uid, gid, additionalGids}',
      properties: {
        uid: uint32,
        gid: uint32,
        umask: uint32,
        additionalGids: { type: 'array', items: uint32, description: 'an array of group ids' },
        username: str,
      },
    },
    args: { type: 'array', minItems: 1, items: str, description: 'a non-empty array of strings' },
    commandLine: str,
    // environ(7): each entry is NAME=value.
    env: {
      type: 'array',
      items: { type: 'string', pattern: '^[^=]+=', description: 'a "NAME=value" string' },
      description: 'an array of "NAME=value" strings',
    },
    cwd: absolutePath,
    capabilities: {
      type: 'object',
      description: 'an object of capability sets',
      properties: {
        bounding: capabilityList,
        effective: capabilityList,
        inheritable: capabilityList,
        permitted: capabilityList,
        ambient: capabilityList,
      },
    },
    rlimits: {
      type: 'array',
      description: 'an array of rlimit objects',
      items: {
        type: 'object',
        required: ['type', 'soft', 'hard'],
        description: 'an rlimit object {type, soft, hard}',
        properties: {
          type: { type: 'string', pattern: '^RLIMIT_[A-Z]+$', description: 'a resource name like "RLIMIT_NOFILE"' },
          soft: uint64,
          hard: uint64,
        },
      },
    },
    noNewPrivileges: bool,
    apparmorProfile: str,
    oomScoreAdj: { type: 'integer', minimum: -1000, maximum: 1000, description: 'an integer from -1000 to 1000' },
    selinuxLabel: str,
  },
};

const linuxSchema: Schema = {
  type: 'object',
  description: 'an object of Linux-specific settings',
  properties: {
    namespaces: {
      type: 'array',
      description: 'an array of namespace objects',
      items: {
        type: 'object',
        required: ['type'],
        description: 'a namespace object {type, path}',
        properties: {
          type: {
            type: 'string',
            enum: ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'],
            description: 'one of pid, network, mount, ipc, uts, user, cgroup, time',
          },
          path: absolutePath,
        },
      },
    },
    uidMappings: { type: 'array', items: idMapping, description: 'an array of id mappings' },
    gidMappings: { type: 'array', items: idMapping, description: 'an array of id mappings' },
    resources: {
      type: 'object',
      description: 'an object of cgroup resource limits',
      properties: {
        memory: {
          type: 'object',
          description: 'an object of memory limits',
          properties: { limit: int64, reservation: int64, swap: int64, swappiness: uint64, disableOOMKiller: bool },
        },
        cpu: {
          type: 'object',
          description: 'an object of cpu limits',
          properties: { shares: uint64, quota: int64, period: uint64, cpus: str, mems: str },
        },
        pids: {
          type: 'object',
          required: ['limit'],
          description: 'an object {limit}',
          properties: { limit: int64 },
        },
        devices: {
          type: 'array',
          description: 'an array of device cgroup rules',
          items: {
            type: 'object',
            required: ['allow'],
            description: 'a device cgroup rule {allow, type, major, minor, access}',
            properties: { allow: bool, type: str, major: int64, minor: int64, access: str },
          },
        },
      },
    },
    cgroupsPath: str,
    sysctl: stringMap,
    maskedPaths: { type: 'array', items: absolutePath, description: 'an array of absolute paths' },
    readonlyPaths: { type: 'array', items: absolutePath, description: 'an array of absolute paths' },
    rootfsPropagation: {
      type: 'string',
      enum: ['private', 'shared', 'slave', 'unbindable', 'rprivate', 'rshared', 'rslave', 'runbindable'],
      description: 'a mount propagation type (private, shared, slave, unbindable, or r-prefixed)',
    },
    mountLabel: str,
    seccomp: { type: 'object', description: 'a seccomp object' },
    devices: {
      type: 'array',
      description: 'an array of device objects',
      items: {
        type: 'object',
        required: ['type', 'path'],
        description: 'a device object {type, path, major, minor}',
        properties: { type: str, path: absolutePath, major: int64, minor: int64, fileMode: uint32, uid: uint32, gid: uint32 },
      },
    },
  },
};

/** The config.json schema; compiled once by oci_config.ts. */
export const ociConfigSchema: Schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  type: 'object',
  // config.md: ociVersion is REQUIRED; root is REQUIRED on every platform but Windows.
  required: ['ociVersion', 'root'],
  description: 'a JSON object',
  properties: {
    // config.md: ociVersion MUST be in SemVer v2.0.0 format.
    ociVersion: {
      type: 'string',
      pattern: '^[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$',
      description: 'a SemVer version string like "1.2.0"',
    },
    process: processSchema,
    root: {
      type: 'object',
      required: ['path'],
      description: 'an object {path, readonly}',
      properties: { path: { type: 'string', minLength: 1, description: 'a non-empty path' }, readonly: bool },
    },
    hostname: str,
    domainname: str,
    mounts: {
      type: 'array',
      description: 'an array of mount objects',
      items: {
        type: 'object',
        required: ['destination'],
        description: 'a mount object {destination, type, source, options}',
        properties: {
          destination: absolutePath,
          type: str,
          source: str,
          options: stringArray,
          uidMappings: { type: 'array', items: idMapping, description: 'an array of id mappings' },
          gidMappings: { type: 'array', items: idMapping, description: 'an array of id mappings' },
        },
      },
    },
    hooks: {
      type: 'object',
      description: 'an object of hook lists',
      properties: Object.fromEntries(
        ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'].map((kind) => [kind, hookList]),
      ),
    },
    annotations: stringMap,
    linux: linuxSchema,
  },
};
