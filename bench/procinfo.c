/* /proc readers: see procinfo.h. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "procinfo.h"

/* Collects the inodes of sockets in state LISTEN (0A) on port from one /proc/net file. */
static int listen_inodes(const char *file, int port, unsigned long *inodes, int max, int n)
{
    FILE *f = fopen(file, "r");
    if (!f)
        return n;
    char line[512];
    if (!fgets(line, sizeof(line), f)) {
        fclose(f);
        return n;
    }
    while (n < max && fgets(line, sizeof(line), f)) {
        char local[128], remote[128];
        unsigned state;
        unsigned long inode;
        /* sl local_address rem_address st tx:rx tr:tm retrnsmt uid timeout inode */
        if (sscanf(line, "%*s %127s %127s %x %*s %*s %*s %*s %*s %lu", local, remote, &state,
                   &inode) != 4)
            continue;
        const char *colon = strrchr(local, ':');
        if (!colon || state != 0x0A)
            continue;
        if ((int)strtol(colon + 1, NULL, 16) == port)
            inodes[n++] = inode;
    }
    fclose(f);
    return n;
}

int procinfo_listeners(int port, pid_t *pids, int max)
{
    unsigned long inodes[8];
    int ni = listen_inodes("/proc/net/tcp", port, inodes, 8, 0);
    ni = listen_inodes("/proc/net/tcp6", port, inodes, 8, ni);
    if (ni == 0)
        return 0;
    DIR *proc = opendir("/proc");
    if (!proc)
        return 0;
    int np = 0;
    struct dirent *d;
    while (np < max && (d = readdir(proc))) {
        if (!isdigit((unsigned char)d->d_name[0]))
            continue;
        char path[300];
        snprintf(path, sizeof(path), "/proc/%s/fd", d->d_name);
        DIR *fds = opendir(path);
        if (!fds)
            continue;
        struct dirent *fd;
        int found = 0;
        while (!found && (fd = readdir(fds))) {
            char link[600], target[128];
            snprintf(link, sizeof(link), "%s/%s", path, fd->d_name);
            ssize_t k = readlink(link, target, sizeof(target) - 1);
            if (k <= 8)
                continue;
            target[k] = '\0';
            unsigned long ino;
            if (sscanf(target, "socket:[%lu]", &ino) != 1)
                continue;
            for (int i = 0; i < ni; i++)
                found |= ino == inodes[i];
        }
        closedir(fds);
        if (found)
            pids[np++] = (pid_t)atoi(d->d_name);
    }
    closedir(proc);
    return np;
}

long procinfo_rss_kib(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kib = -1;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose(f);
    return kib;
}

double procinfo_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t k = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[k] = '\0';
    /* The command name may hold spaces: fields are counted after its closing paren. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

double procinfo_self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

uint64_t procinfo_cpus_allowed(pid_t pid)
{
    char path[64], line[512];
    if (pid)
        snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    else
        snprintf(path, sizeof(path), "/proc/self/status");
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    uint64_t mask = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "Cpus_allowed_list:", 18) != 0)
            continue;
        /* "0-3,5,7-8" */
        char *p = line + 18;
        while (*p) {
            while (*p == ' ' || *p == '\t' || *p == ',')
                p++;
            if (*p < '0' || *p > '9')
                break;
            long a = strtol(p, &p, 10), b = a;
            if (*p == '-')
                b = strtol(p + 1, &p, 10);
            for (long c = a; c <= b && c < 64; c++)
                mask |= UINT64_C(1) << c;
        }
        break;
    }
    fclose(f);
    return mask;
}

double procinfo_cpus_busy_s(uint64_t mask)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return -1;
    char line[512];
    double ticks = 0;
    while (fgets(line, sizeof(line), f)) {
        int cpu;
        unsigned long long v[8] = {0};
        /* cpuN user nice system idle iowait irq softirq steal */
        if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7]) != 9)
            continue;
        if (cpu < 0 || cpu >= 64 || !(mask & (UINT64_C(1) << cpu)))
            continue;
        ticks += (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]);
    }
    fclose(f);
    return ticks / (double)sysconf(_SC_CLK_TCK);
}

void procinfo_cpus_format(uint64_t mask, char *out, size_t n)
{
    size_t o = 0;
    out[0] = '\0';
    for (int c = 0; c < 64 && o + 8 < n; c++) {
        if (!(mask & (UINT64_C(1) << c)))
            continue;
        int d = c;
        while (d + 1 < 64 && (mask & (UINT64_C(1) << (d + 1))))
            d++;
        int k = d == c ? snprintf(out + o, n - o, "%s%d", o ? "," : "", c)
                       : snprintf(out + o, n - o, "%s%d-%d", o ? "," : "", c, d);
        if (k < 0)
            break;
        o += (size_t)k;
        c = d;
    }
}

long long procinfo_thread_wchar(pid_t pid, const char *name)
{
    char path[sizeof(((struct dirent *)0)->d_name) + 64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    long long total = -1;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%s/comm", (int)pid, de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        int match = fgets(line, sizeof(line), f) && strncmp(line, name, strlen(name)) == 0 &&
                    (line[strlen(name)] == '\n' || line[strlen(name)] == '\0');
        fclose(f);
        if (!match)
            continue;
        snprintf(path, sizeof(path), "/proc/%d/task/%s/io", (int)pid, de->d_name);
        if (!(f = fopen(path, "r")))
            continue;
        long long v;
        while (fgets(line, sizeof(line), f))
            if (sscanf(line, "wchar: %lld", &v) == 1) {
                total = (total < 0 ? 0 : total) + v;
                break;
            }
        fclose(f);
    }
    closedir(d);
    return total;
}
