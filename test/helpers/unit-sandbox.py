#!/usr/bin/env python3
"""Run a command under a unit's system call filter, the way systemd applies it.

    unit-sandbox.py ALLOWED_FILE FAMILY... -- COMMAND [ARG...]

ALLOWED_FILE holds the system calls that SystemCallFilter= allows (one per line, as
expanded by the caller with systemd-analyze); every other one fails with EPERM
(SystemCallErrorNumber=EPERM). FAMILY... are the numbers of the address families that
RestrictAddressFamilies= allows: socket() with another family fails with EAFNOSUPPORT,
as under systemd. Both are seccomp filters set through libseccomp (which systemd itself
uses, so it is there wherever systemd is), then COMMAND is exec'd.
"""
import ctypes
import ctypes.util
import errno
import os
import sys


class ArgCmp(ctypes.Structure):
    # struct scmp_arg_cmp (seccomp.h)
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64), ("datum_b", ctypes.c_uint64)]


SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_EQ = 4
SCMP_CMP_GT = 6


def SCMP_ACT_ERRNO(code):
    return 0x00050000 | (code & 0x0000FFFF)


def main(argv):
    sep = argv.index("--")
    allowed_file, families, command = argv[1], [int(f) for f in argv[2:sep]], argv[sep + 1:]
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2", use_errno=True)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.restype = ctypes.c_int
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(ArgCmp)]
    lib.seccomp_load.argtypes = [ctypes.c_void_p]

    ctx = lib.seccomp_init(SCMP_ACT_ERRNO(errno.EPERM))
    if not ctx:
        sys.exit("seccomp_init failed")

    def rule(action, nr, *cmps):
        array = (ArgCmp * max(len(cmps), 1))(*cmps)
        rc = lib.seccomp_rule_add_array(ctx, action, nr, len(cmps), array)
        if rc < 0:
            sys.exit(f"seccomp_rule_add_array({nr}) failed: {rc}")

    socket_nr = lib.seccomp_syscall_resolve_name(b"socket")
    with open(allowed_file) as f:
        for name in f.read().split():
            nr = lib.seccomp_syscall_resolve_name(name.encode())
            if nr < 0 or nr == socket_nr:
                continue  # not a system call of this architecture; socket() comes below
            rule(SCMP_ACT_ALLOW, nr)
    # RestrictAddressFamilies=: the allowed families, EAFNOSUPPORT for every other one.
    for family in range(0, 64):
        action = SCMP_ACT_ALLOW if family in families else SCMP_ACT_ERRNO(errno.EAFNOSUPPORT)
        rule(action, socket_nr, ArgCmp(0, SCMP_CMP_EQ, family, 0))
    rule(SCMP_ACT_ERRNO(errno.EAFNOSUPPORT), socket_nr, ArgCmp(0, SCMP_CMP_GT, 63, 0))
    if lib.seccomp_load(ctx) != 0:
        sys.exit("seccomp_load failed")
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv)
