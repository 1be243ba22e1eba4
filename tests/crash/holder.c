/*
 * crash-holder: keeps an LMDB environment open, without any transaction, until its stdin
 * closes. Used by scripts/crash-test.
 *
 *   crash-holder DIR      prints "ready" once the environment is open, exits 0 on stdin EOF
 *
 * Why it exists: LMDB's first process to open an environment takes the lock file's exclusive
 * lock and resets the reader table, so a server restarted alone after SIGKILL never sees the
 * dead process's reader slot and `mdb_reader_check` has nothing to do. With this process
 * holding the environment open across the kill and the restart (as a backup tool or a second
 * reader would in production), the dead server's reader slot, and its write mutex when it
 * died inside a write txn, survive into the restarted server, whose store_open must clear them.
 * The holder takes no reader slot and no lock besides the shared one on the lock file, so it
 * does not pin pages or block the map from growing.
 */
#include <lmdb.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    MDB_env *env;
    int rc;
    if (argc != 2) {
        fprintf(stderr, "usage: crash-holder DIR\n");
        return 2;
    }
    if ((rc = mdb_env_create(&env)) || (rc = mdb_env_set_maxreaders(env, 126)) ||
        (rc = mdb_env_open(env, argv[1], MDB_NOTLS, 0600))) {
        fprintf(stderr, "crash-holder: %s: %s\n", argv[1], mdb_strerror(rc));
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    char buf[256];
    while (read(0, buf, sizeof(buf)) > 0)
        ;
    mdb_env_close(env);
    return 0;
}
