// The one error type the CLI reports: a stable code for logs and scripts, and a message a user can act on.
// main.ts prints `runsc: <message>` and exits non-zero; the log carries the code too.

export type RuntimeErrorCode =
  | 'EBADCONFIG' // config.json missing, unreadable, not JSON, or not a valid OCI runtime-spec config
  | 'ENOBUNDLE' // the bundle directory does not exist
  | 'ENOCONTAINER' // no container with that id in the state root
  | 'EEXIST' // a container with that id already exists
  | 'EBADID' // the id is not a usable container id
  | 'EBADSTATE' // the operation is not allowed in the container's current status
  | 'ELOCKED' // the container's state lock could not be taken in time
  | 'ESANDBOX' // starting or talking to the sandbox (sentry, gofer) failed
  | 'EUSAGE' // bad command-line usage
  | 'EBADSIGNAL' // unknown signal name or number
  | 'ENOTSUP' // a runc command tsvisor does not implement yet
  | 'EHOOK'; // an OCI hook failed

export class RuntimeError extends Error {
  readonly code: RuntimeErrorCode;
  constructor(code: RuntimeErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RuntimeError';
    this.code = code;
  }
}
