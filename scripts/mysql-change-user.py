#!/usr/bin/env python3
"""COM_CHANGE_USER on a compressed connection, from MariaDB's own client
library (libmariadb, through ctypes: no headers or build needed), for
scripts/record-mysql.sh. None of the CLI clients on Debian sends
COM_CHANGE_USER; mysql_change_user() does.

  mysql-change-user.py HOST PORT USER PASS DB USER2 PASS2

logs in as USER with CLIENT_COMPRESS (no TLS), runs a query, changes
to USER2 (whose auth plugin may differ: the server then switches the
client to it), runs a query, changes back to USER, runs a query. Prints
CURRENT_USER() after each step.
"""
import ctypes
import sys

CLIENT_COMPRESS = 32


def main():
    host, port, user, pw, db, user2, pw2 = sys.argv[1:8]
    lib = ctypes.CDLL("libmariadb.so.3")
    vp, cp = ctypes.c_void_p, ctypes.c_char_p
    lib.mysql_init.restype = vp
    lib.mysql_init.argtypes = [vp]
    lib.mysql_real_connect.restype = vp
    lib.mysql_real_connect.argtypes = [vp, cp, cp, cp, cp, ctypes.c_uint, cp, ctypes.c_ulong]
    lib.mysql_change_user.restype = ctypes.c_char
    lib.mysql_change_user.argtypes = [vp, cp, cp, cp]
    lib.mysql_query.argtypes = [vp, cp]
    lib.mysql_store_result.restype = vp
    lib.mysql_store_result.argtypes = [vp]
    lib.mysql_fetch_row.restype = ctypes.POINTER(cp)
    lib.mysql_fetch_row.argtypes = [vp]
    lib.mysql_free_result.argtypes = [vp]
    lib.mysql_error.restype = cp
    lib.mysql_error.argtypes = [vp]
    lib.mysql_close.argtypes = [vp]

    m = lib.mysql_init(None)  # the library asks for TLS only when told to

    def fail(what):
        sys.exit("mysql-change-user: %s: %s" % (what, lib.mysql_error(m).decode()))

    def who():
        if lib.mysql_query(m, b"SELECT CURRENT_USER()"):
            fail("query")
        r = lib.mysql_store_result(m)
        print(lib.mysql_fetch_row(r)[0].decode())
        lib.mysql_free_result(r)

    if not lib.mysql_real_connect(m, host.encode(), user.encode(), pw.encode(), db.encode(), int(port), None, CLIENT_COMPRESS):
        fail("connect")
    who()
    if lib.mysql_change_user(m, user2.encode(), pw2.encode(), db.encode()) != b"\x00":
        fail("change user to " + user2)
    who()
    if lib.mysql_change_user(m, user.encode(), pw.encode(), db.encode()) != b"\x00":
        fail("change user to " + user)
    who()
    lib.mysql_close(m)


main()
