"""A systemd notify socket for tests: binds an AF_UNIX datagram socket (a path, or
@name for an abstract one) with SO_PASSCRED, as PID 1 does, and prints one JSON line
per datagram: the sender's PID from SCM_CREDENTIALS and the message. File descriptors
passed with BARRIER=1 (systemd-notify sends one and waits for it to be closed) are
closed at once, which is what tells systemd-notify the message was processed."""
import json, os, socket, struct, sys

path = sys.argv[1]
address = '\0' + path[1:] if path.startswith('@') else path
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
sock.bind(address)
print(json.dumps({"listening": path}), flush=True)
while True:
    msg, ancillary, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(12) + socket.CMSG_SPACE(64))
    pid, fds = None, 0
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack('iII', data[:12])[0]
        elif level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            count = len(data) // 4
            for fd in struct.unpack('%di' % count, data[:4 * count]):
                os.close(fd)
                fds += 1
    print(json.dumps({"pid": pid, "fds": fds, "msg": msg.decode('utf8', 'replace')}), flush=True)
