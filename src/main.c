/* regularsd: flags -> config -> server_run. */
#include <stdio.h>
#include <stdlib.h>

#include "regulars/config.h"
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

    static struct server srv;
    if (server_init(&srv, &cfg))
        return 1;
    rc = server_run(&srv);
    server_fini(&srv);
    return rc ? 1 : 0;
}
