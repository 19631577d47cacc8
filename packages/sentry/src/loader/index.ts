// The ELF loader of execve: reads an executable through the VFS and returns the plan of the new image.
export { loadExecutable, MAX_INTERPRETER_DEPTH, MAX_IMAGE_FILE_BYTES } from './loader.js';
export { DEFAULT_LAYOUT, PAGE_SIZE, TASK_SIZE, PROT_READ, PROT_WRITE, PROT_EXEC } from './layout.js';
export { AT } from './auxv.js';
export { parseShebang } from './shebang.js';
export type {
  AddressLayout,
  ExecutableFile,
  ExecutableSource,
  LoadedImage,
  LoadExecutable,
  LoadOptions,
  MappingPlan,
  StackPlan,
} from './types.js';
export { HostExecutableSource } from './host_executable_source.js';
