/* regularsd: flags -> config -> server_run. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "regulars/config.h"
#include "regulars/demo.h"
#include "regulars/error.h"
#include "regulars/log.h"
#include "regulars/server.h"

int main(int argc, char **argv)
{
    struct config cfg;
    config_defaults(&cfg);
    int rc = config_parse(&cfg, argc, argv);
    if (rc)
        return rc > 0 ? 0 : 2;
    log_set_level(cfg.log_level);

    /* Every connection is a descriptor: take the hard limit, and say when it is short. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)cfg.max_conns + 64)
            log_warn("open files limit %llu is below --max-conns; raise ulimit -n",
                     (unsigned long long)rl.rlim_cur);
        else if (rl.rlim_cur < (rlim_t)cfg.max_conns + cfg.max_ws)
            log_info("open files limit %llu bounds connections below --max-conns + --max-ws",
                     (unsigned long long)rl.rlim_cur);
    }

    static struct server srv;
    if (server_init(&srv, &cfg))
        return 1;
    if (cfg.demo && (rc = demo_start(&srv)))
        log_warn("demo: %s (the server goes on without it)", rg_strerror(rc));
    rc = server_run(&srv);
    demo_stop(&srv);
    server_fini(&srv);
    return rc ? 1 : 0;
}
