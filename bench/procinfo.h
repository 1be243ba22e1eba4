/*
 * What /proc tells about the server under test: which processes hold its listening socket,
 * their resident memory and their CPU time. Linux only, like the rest of the bench.
 */
#ifndef BENCH_PROCINFO_H
#define BENCH_PROCINFO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PROCINFO_MAX_PIDS 16

/** Finds the processes that hold a TCP socket listening on port (IPv4 or IPv6, any
 *  address). Fills up to max pids and returns how many were found (0 when none, e.g. the
 *  server belongs to another user). */
int procinfo_listeners(int port, pid_t *pids, int max);
/** Resident set size of pid in KiB (VmRSS), or -1. */
long procinfo_rss_kib(pid_t pid);
/** CPU time (user + system) of pid in seconds, or -1. */
double procinfo_cpu_s(pid_t pid);
/** CPU time of this process in seconds. */
double procinfo_self_cpu_s(void);
/** The CPUs pid may run on (Cpus_allowed_list), as a bit mask of CPUs 0..63; pid 0 = this
 *  process. 0 when unknown. */
uint64_t procinfo_cpus_allowed(pid_t pid);
/** Busy time (everything but idle and iowait) of the CPUs in mask, in seconds, from
 *  /proc/stat. -1 when unreadable. */
double procinfo_cpus_busy_s(uint64_t mask);
/** Bytes written by write system calls (wchar in /proc/PID/task/TID/io) of pid's threads
 *  named name (regularsd's commit thread is "rg-commit": everything it writes is LMDB pages
 *  and meta pages of the data file). -1 when no such thread or unreadable. */
long long procinfo_thread_wchar(pid_t pid, const char *name);
/** Writes mask as a list ("0", "1-3,5") into out. */
void procinfo_cpus_format(uint64_t mask, char *out, size_t n);

#endif
