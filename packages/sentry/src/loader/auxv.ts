// Auxiliary-vector keys (include/uapi/linux/auxvec.h and arch/x86/include/uapi/asm/auxvec.h).
export const AT = {
  NULL: 0,
  IGNORE: 1,
  EXECFD: 2,
  PHDR: 3,
  PHENT: 4,
  PHNUM: 5,
  PAGESZ: 6,
  BASE: 7,
  FLAGS: 8,
  ENTRY: 9,
  NOTELF: 10,
  UID: 11,
  EUID: 12,
  GID: 13,
  EGID: 14,
  PLATFORM: 15,
  HWCAP: 16,
  CLKTCK: 17,
  SECURE: 23,
  BASE_PLATFORM: 24,
  RANDOM: 25,
  HWCAP2: 26,
  EXECFN: 31,
  SYSINFO_EHDR: 33,
  MINSIGSTKSZ: 51,
} as const;

/** USER_HZ, the unit of times(2) and of /proc tick counts, announced as AT_CLKTCK. */
export const CLOCK_TICKS_PER_SECOND = 100n;
